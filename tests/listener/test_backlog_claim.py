"""LISTENER_BACKLOG_CLAIM=transaction: a backlog claimed, inferred and recorded in one short transaction
per batch (one write per row). Real listener processes, really killed, against a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from tests.listener.helpers import (
    all_done,
    assert_exactly_one_result_each,
    assert_stopped_mid_backlog,
    wait_until,
)
from tests.listener.procs import listener_mid_backlog, live_listeners, log_text, two_listeners_drain
from tests.stack import running_listener

pytestmark = pytest.mark.slow

# A lease far longer than the test may wait: a row that only a lease's expiry could free would stay stuck.
TRANSACTION = {"LISTENER_BACKLOG_CLAIM": "transaction", "LISTENER_LEASE_SECONDS": "600"}


def work_backend_state(conn: psycopg.Connection, listener_id: str) -> str | None:
    row = conn.execute(
        "SELECT state FROM pg_stat_activity WHERE application_name = %s", [f"listener {listener_id}"]
    ).fetchone()
    return row[0] if row else None


def kill_inside_its_transaction(conn: psycopg.Connection, proc: subprocess.Popen, listener_id: str) -> None:
    """SIGKILL the process at a moment its work connection is inside a batch's transaction (freeze, look,
    thaw, retry), that is while it holds locked, inferred but unrecorded rows."""
    for _ in range(300):
        os.kill(proc.pid, signal.SIGSTOP)
        # A statement sent just before the freeze still runs on the server: let it finish first.
        wait_until(lambda: work_backend_state(conn, listener_id) != "active", 2)
        if work_backend_state(conn, listener_id) == "idle in transaction":
            # What a DBA sees of a batch in flight: its rows still pending, none claimed in its name.
            row = conn.execute("SELECT count(*) FROM prediction_requests WHERE status = 'running'").fetchone()
            assert row == (0,)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.003)
    raise AssertionError("never caught the listener inside a batch's transaction")


def test_a_listener_killed_inside_a_backlog_batch_leaves_its_rows_pending_and_nothing_twice(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    env = {**stand_in_env, **TRANSACTION}
    with listener_mid_backlog(db_url, conn, env, tmp_path / "first.log", 2000) as first:
        (killed_id, _, _) = live_listeners(conn)[0]
        kill_inside_its_transaction(conn, first, killed_id)
    assert first.returncode == -signal.SIGKILL
    # Nothing held: the batch in flight rolled back with its session, nothing waits for a lease.
    counts = assert_stopped_mid_backlog(conn, 2000)
    assert conn.execute("SELECT count(*) FROM prediction_results").fetchone() == (counts["completed"],)

    with running_listener(db_url, "--batch-size", "20", env=env, log=tmp_path / "second.log"):
        assert wait_until(all_done(conn), 60), log_text(tmp_path / "second.log")
    assert_exactly_one_result_each(conn, 2000)
    # Each row claimed once, by the write that completed it: the killed batch's attempt left no trace.
    assert conn.execute("SELECT DISTINCT attempts FROM prediction_requests").fetchall() == [(1,)]
    assert "backlog claimed by transaction" in log_text(tmp_path / "second.log")


def test_two_listeners_share_a_backlog_in_short_transactions_without_duplicates(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    two_listeners_drain(db_url, conn, {**stand_in_env, **TRANSACTION}, tmp_path, 3000, batch_size=50)
    assert conn.execute("SELECT DISTINCT attempts FROM prediction_requests").fetchall() == [(1,)]


def test_a_stop_signal_inside_a_backlog_of_short_transactions_leaves_nothing_claimed(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    with listener_mid_backlog(db_url, conn, {**stand_in_env, **TRANSACTION}, listener_log, 3000) as proc:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, log_text(listener_log)
    assert_stopped_mid_backlog(conn, 3000)
    # The rows it never recorded are as if never claimed.
    assert conn.execute(
        "SELECT DISTINCT attempts, claimed_by IS NULL FROM prediction_requests WHERE status = 'pending'"
    ).fetchall() == [(0, True)]
    assert conn.execute("SELECT stopped_at IS NOT NULL FROM listener_heartbeats").fetchall() == [(True,)]
