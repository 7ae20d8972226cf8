"""The roles as a DBA meets them: created once per server by whichever migration comes first, a
migration run by a non-superuser member of futurisys_owner, and the test stack's processes under
their own roles."""

from __future__ import annotations

import threading

import httpx
import psycopg
import pytest
from psycopg import sql

from sql.logins import ensure_login, new_password
from sql.migrate import migrate
from tests.api.conftest import employee
from tests.listener.procs import wait_listening
from tests.logins import drop_login
from tests.pg import Databases, database_url
from tests.stack import running_api, running_listener

LISTENER = {"LISTENER_SWEEP_SECONDS": "60"}


def test_migrations_of_several_new_databases_at_once_share_the_servers_roles(databases: Databases) -> None:
    names = [databases.create() for _ in range(3)]
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            migrate(database_url(databases.server_url, name))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        for name in names:
            with psycopg.connect(database_url(databases.server_url, name)) as conn:
                owners = conn.execute(
                    "SELECT DISTINCT relowner::regrole::text FROM pg_class"
                    " WHERE relnamespace = 'public'::regnamespace"
                ).fetchall()
                assert owners == [("futurisys_owner",)]
    finally:
        for name in names:
            databases.drop(name)


def test_a_dba_who_is_a_member_of_futurisys_owner_migrates_without_being_superuser(
    databases: Databases,
) -> None:
    admin = databases.server_url
    login = f"futurisys_test_dba_{new_password()[:8].lower().replace('-', '_')}"
    dba_url = ensure_login(admin, login, "owner", new_password())
    name = databases.create()
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(login))
            )
        with psycopg.connect(database_url(admin, name), autocommit=True) as conn:
            conn.execute("ALTER SCHEMA public OWNER TO futurisys_owner")
        url = database_url(dba_url, name)
        applied = migrate(url)
        assert applied and migrate(url) == []
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
                False,
            )
            assert conn.execute(
                "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                " AND relowner <> 'futurisys_owner'::regrole"
            ).fetchone() == (0,)
            # The owner's members may erase; the trail names the DBA's login.
            conn.execute("SELECT * FROM erase_subject('E-1')")
            assert conn.execute("SELECT actor FROM audit_events").fetchone() == (login,)
    finally:
        databases.drop(name)
        drop_login(admin, login)


@pytest.mark.slow
def test_the_test_stack_runs_the_api_and_the_listener_as_their_own_roles(
    db_url: str, conn: psycopg.Connection, stand_in_env: dict[str, str]
) -> None:
    env = {**stand_in_env, **LISTENER}
    with running_listener(db_url, env=env) as proc, running_api(db_url, env=env) as api:
        wait_listening(conn, proc)
        answer = httpx.post(
            f"{api}/predictions/request?wait=20", json={"model_name": "logistic", "features": employee()}
        )
        assert answer.status_code == 200, answer.text
        rows = conn.execute(
            "SELECT DISTINCT a.usename, r.rolsuper,"
            " pg_has_role(a.usename, 'futurisys_api', 'MEMBER'),"
            " pg_has_role(a.usename, 'futurisys_listener', 'MEMBER')"
            " FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename"
            " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
        ).fetchall()
    members = sorted((api_member, listener_member) for _, superuser, api_member, listener_member in rows)
    assert members == [(False, True), (True, False)], rows
    assert not any(superuser for _, superuser, _, _ in rows), rows
    assert answer.json()["result"]["prediction"] in (0, 1)
