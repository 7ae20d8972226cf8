"""The database goes away under a running listener: it comes back by itself and drains what it missed.

Rows are submitted "silently" (no NOTIFY reaches anyone), as if committed while the listener was not
LISTENing; the sweep is 60 s, so only the listener's reconnect-then-claim can complete them in time.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from tests.link import Link
from tests.listener.conftest import LISTENER_ENV
from tests.listener.helpers import (
    all_done,
    assert_exactly_one_result_each,
    submit,
    submit_silently,
    wait_until,
)
from tests.listener.procs import backends, log_text, wait_listening
from tests.stack import running_listener

pytestmark = pytest.mark.slow

RECOVERY_SECONDS = 15  # ≪ the 60 s sweep
# A NOTIFY heard wakes the listener at once; the bound is generous for a busy machine, yet far below the
# 60 s sweep and the 60 s ping, the only other ways a fresh row could complete (a deaf LISTEN connection
# found by its ping is replaced, and the replacement claims what is pending).
WAKE_SECONDS = 15
ENV = {**LISTENER_ENV, "LISTENER_PING_SECONDS": "60"}  # a closed socket is noticed without the ping


def stays_pending(conn: psycopg.Connection, ids: list[int], seconds: float) -> bool:
    """The silent rows really are unseen: nothing claims them while the listener is healthy."""
    time.sleep(seconds)
    row = conn.execute(
        "SELECT bool_and(status = 'pending') FROM prediction_requests WHERE id = ANY(%s)", [ids]
    )
    return row.fetchone() == (True,)


def test_listener_survives_its_listen_backend_being_terminated(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    with running_listener(db_url, env={**stand_in_env, **ENV}, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        [old_listen] = backends(conn, listen=True)
        missed = submit_silently(conn, 200)
        assert stays_pending(conn, missed, 0.5)

        conn.execute("SELECT pg_terminate_backend(%s)", [old_listen])

        assert wait_until(all_done(conn, missed), RECOVERY_SECONDS), log_text(listener_log)
        assert wait_until(lambda: len(backends(conn, listen=True)) == 1, WAKE_SECONDS)
        assert backends(conn, listen=True) != [old_listen]
        fresh = submit(conn, 1)
        assert wait_until(all_done(conn, fresh), WAKE_SECONDS), (
            "the new LISTEN connection does not hear NOTIFY"
        )
        assert proc.poll() is None
    assert_exactly_one_result_each(conn, 201)


def test_listener_survives_a_postgres_restart(
    db_url: str, conn: psycopg.Connection, db_link: Link, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    """As the listener sees a restart: every connection cut, none accepted for a while (tests/link.py)."""
    env = {**stand_in_env, **ENV, **db_link.process_env(db_url)}
    with running_listener(db_url, env=env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        missed = submit_silently(conn, 200)
        assert stays_pending(conn, missed, 0.5)

        db_link.cut()
        time.sleep(1.5)  # down for a while: the listener's reconnects are refused
        db_link.restore()

        assert wait_until(all_done(conn, missed), RECOVERY_SECONDS), log_text(listener_log)
        assert wait_until(lambda: len(backends(conn, listen=True)) == 1, WAKE_SECONDS)
        fresh = submit(conn, 1)
        assert wait_until(all_done(conn, fresh), WAKE_SECONDS), (
            "the new LISTEN connection does not hear NOTIFY"
        )
        assert proc.poll() is None
        assert_exactly_one_result_each(conn, 201)
    assert "connected again" in listener_log.read_text()
