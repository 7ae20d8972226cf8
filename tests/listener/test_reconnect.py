"""The database goes away under a running listener: it comes back by itself and drains what it missed.

Rows are submitted "silently" (no NOTIFY reaches anyone), as if committed while the listener was not
LISTENing; the sweep and the ping are 10 min, so only the listener's reconnect-then-claim can complete them
in time.
"""

from __future__ import annotations

import subprocess
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

# The sweep and the ping are the only other ways a row could complete (each sets the listener claiming;
# a deaf LISTEN connection found by its ping is replaced, and the replacement claims what is pending).
# At 10 min they never come during a test (its timeout is 5 min), so the waits below can be generous for a
# busy machine and still prove that the reconnect, or a NOTIFY heard, did the work.
QUIET_SECONDS = "600"
ENV = {**LISTENER_ENV, "LISTENER_SWEEP_SECONDS": QUIET_SECONDS, "LISTENER_PING_SECONDS": QUIET_SECONDS}
RECOVERY_SECONDS = 60
WAKE_SECONDS = 30  # a NOTIFY heard wakes the listener at once


def wait_settled(conn: psycopg.Connection, proc: subprocess.Popen, early: list[int], log: Path) -> None:
    """Until the listener's first claim after connecting is behind it: that claim takes whatever is pending
    (`early`, committed before it started), so rows committed between its registration and that claim
    would be taken too, and not be missed. Once `early` is answered the listener waits for a NOTIFY."""
    wait_listening(conn, proc, log=log)
    assert wait_until(all_done(conn, early), WAKE_SECONDS), log_text(log)


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
    early = submit_silently(conn, 1)
    with running_listener(db_url, env={**stand_in_env, **ENV}, log=listener_log) as proc:
        wait_settled(conn, proc, early, listener_log)
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
    assert_exactly_one_result_each(conn, 202)


def test_listener_survives_a_postgres_restart(
    db_url: str, conn: psycopg.Connection, db_link: Link, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    """As the listener sees a restart: every connection cut, none accepted for a while (tests/link.py)."""
    env = {**stand_in_env, **ENV, **db_link.process_env(db_url)}
    early = submit_silently(conn, 1)
    with running_listener(db_url, env=env, log=listener_log) as proc:
        wait_settled(conn, proc, early, listener_log)
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
        assert_exactly_one_result_each(conn, 202)
    assert "connected again" in listener_log.read_text()
