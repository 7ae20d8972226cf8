"""The outage fixture itself (tests/link.py): a cut link looks like a stopped server, on any route."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.link import Link
from tests.logins import login_name


def test_a_cut_link_closes_its_connections_refuses_new_ones_and_restores(
    db_url: str, conn: psycopg.Connection, db_link: Link
) -> None:
    with psycopg.connect(db_link.url(db_url), autocommit=True) as through:
        [pid] = through.execute("SELECT pg_backend_pid()").fetchone()
        assert db_link.connections() == 1

        db_link.cut()
        with pytest.raises(psycopg.OperationalError):
            through.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(db_link.url(db_url), connect_timeout=10)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the server itself never stopped

    # The server side of a cut connection goes too, as after a restart.
    gone = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
    for _ in range(300):
        if conn.execute(gone, [pid]).fetchone() == (0,):
            break
        conn.execute("SELECT pg_sleep(0.1)")
    assert conn.execute(gone, [pid]).fetchone() == (0,)

    db_link.restore()
    with psycopg.connect(db_link.url(db_url), autocommit=True) as again:
        assert again.execute("SELECT current_database()").fetchone() == (conn.info.dbname,)


def test_the_processes_urls_all_go_through_the_link(db_url: str, db_link: Link) -> None:
    env = db_link.process_env(db_url)
    roles = {"API_DATABASE_URL": login_name("api"), "LISTENER_DATABASE_URL": login_name("listener")}
    assert set(env) == {"DATABASE_URL", *roles}
    for name, url in env.items():
        params = conninfo_to_dict(url)
        assert (params["host"], params["port"]) == ("127.0.0.1", str(db_link.port)), name
        with psycopg.connect(url) as through:  # each process logs in through the link as its own role
            assert through.execute("SELECT current_database()").fetchone() == (
                conninfo_to_dict(db_url)["dbname"],
            )
            if name in roles:
                assert through.execute("SELECT current_user").fetchone() == (roles[name],)
