"""A lease-mode backlog whose batches are written on a second connection while the next one is claimed and
inferred (LISTENER_RECORD_IN_BACKGROUND, on by default). Real listener processes, really killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from listener.config import ListenerConfig
from listener.daemon import Listener
from tests.listener.helpers import (
    FakeHandle,
    FakeRegistry,
    all_done,
    assert_exactly_one_result_each,
    running_in_thread,
    status_counts,
    submit,
    wait_until,
)
from tests.listener.procs import completed_count, live_listeners, log_text, wait_listening
from tests.stack import process_env, start, stop

pytestmark = pytest.mark.slow


def work_backends(conn: psycopg.Connection, listener_id: str) -> list[str]:
    """States of the listener's work connections (its own, and the recorder's once a backlog came)."""
    rows = conn.execute(
        "SELECT state FROM pg_stat_activity WHERE application_name = %s", [f"listener {listener_id}"]
    ).fetchall()
    return [state for (state,) in rows]


def recording_backends(conn: psycopg.Connection, listener_id: str) -> int:
    """How many of the listener's connections are running a batch's recording statement right now."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
        " AND query LIKE %s",
        [f"listener {listener_id}", "%record_prediction_outcomes(%"],
    ).fetchone()
    assert row is not None
    return int(row[0])


def running_rows(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM prediction_requests WHERE status = 'running'").fetchone()
    assert row is not None
    return int(row[0])


def kill_while_writing_behind(
    conn: psycopg.Connection, proc: subprocess.Popen, listener_id: str, batch_size: int
) -> None:
    """SIGKILL the process at a moment one of its two work connections runs a statement (freeze, look,
    thaw, retry): a batch's outcome in flight in the background, the next batch claimed or inferring."""
    for _ in range(400):
        os.kill(proc.pid, signal.SIGSTOP)
        states = work_backends(conn, listener_id)
        # More rows held than the write in flight: the server finishes that write after the kill, so
        # only a batch claimed beside it is still running then (what the test looks for).
        if len(states) == 2 and "active" in states and running_rows(conn) > batch_size:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.002)
    raise AssertionError("never caught the listener writing a batch in the background")


def test_a_backlog_written_behind_its_next_batch_gets_exactly_one_result_each(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    submit(conn, 3000)
    log = tmp_path / "listener.log"
    proc = start("listener", ["--batch-size", "20"], process_env(db_url, stand_in_env), log)
    seen_two = False
    try:
        wait_listening(conn, proc, log=log)
        (listener_id, _, _) = live_listeners(conn)[0]

        def done_watching_connections() -> bool:
            nonlocal seen_two
            seen_two = seen_two or len(work_backends(conn, listener_id)) == 2
            return all_done(conn)()

        assert wait_until(done_watching_connections, 60), log_text(log)
    finally:
        assert stop(proc) == 0
    assert seen_two, "the backlog was never written on a second connection"
    assert_exactly_one_result_each(conn, 3000)
    assert conn.execute("SELECT DISTINCT attempts FROM prediction_requests").fetchall() == [(1,)]
    # Every batch counted once, the ones written in the background too, and the last before the stop.
    processed = conn.execute("SELECT processed FROM listener_heartbeats").fetchone()
    assert processed == (3000,)


def test_without_background_writes_the_listener_keeps_one_work_connection(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    env = {**stand_in_env, "LISTENER_RECORD_IN_BACKGROUND": "false"}
    submit(conn, 1000)
    log = tmp_path / "listener.log"
    proc = start("listener", ["--batch-size", "20"], process_env(db_url, env), log)
    most = 0
    try:
        wait_listening(conn, proc, log=log)
        (listener_id, _, _) = live_listeners(conn)[0]

        def done_watching_connections() -> bool:
            nonlocal most
            most = max(most, len(work_backends(conn, listener_id)))
            return all_done(conn)()

        assert wait_until(done_watching_connections, 60), log_text(log)
    finally:
        assert stop(proc) == 0
    assert most == 1
    assert_exactly_one_result_each(conn, 1000)


def kill_while_two_write_behind(conn: psycopg.Connection, proc: subprocess.Popen, listener_id: str) -> None:
    """SIGKILL the process at a moment two of its connections each run a batch's recording statement:
    two outcomes in flight in the background (LISTENER_RECORD_WRITERS=2)."""
    for _ in range(2000):
        os.kill(proc.pid, signal.SIGSTOP)
        if recording_backends(conn, listener_id) >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.001)
    raise AssertionError("never caught the listener writing two batches in the background")


def test_a_listener_killed_while_writing_behind_loses_nothing_and_duplicates_nothing(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    # One write in flight at most (the two-writer kill is the next test): two work connections.
    env = {
        **stand_in_env,
        "LISTENER_LEASE_SECONDS": "2",
        "LISTENER_SWEEP_SECONDS": "1",
        "LISTENER_RECORD_WRITERS": "1",
    }
    submit(conn, 2000)
    first = start("listener", ["--batch-size", "20"], process_env(db_url, env), tmp_path / "first.log")
    try:
        wait_listening(conn, first, log=tmp_path / "first.log")
        (killed_id, _, _) = live_listeners(conn)[0]
        assert wait_until(lambda: completed_count(conn) >= 100, 20), log_text(tmp_path / "first.log")
        kill_while_writing_behind(conn, first, killed_id, batch_size=20)
    finally:
        stop(first, signal.SIGKILL)
    assert first.returncode == -signal.SIGKILL
    # The server finishes a statement the killed process had sent: wait for it before looking.
    assert wait_until(lambda: work_backends(conn, killed_id) == [], 10)
    counts = status_counts(conn)
    assert counts.get("running", 0) > 0 and counts.get("pending", 0) > 0, counts  # really mid-backlog
    held = counts["running"]
    assert conn.execute("SELECT count(*) FROM prediction_results").fetchone() == (counts["completed"],)

    second = start("listener", ["--batch-size", "20"], process_env(db_url, env), tmp_path / "second.log")
    try:
        assert wait_until(all_done(conn), 30), log_text(tmp_path / "second.log")
    finally:
        assert stop(second) == 0
    assert_exactly_one_result_each(conn, 2000)
    # The rows the dead listener held (its batch in flight, the next one) were claimed once more each.
    row = conn.execute("SELECT count(*) FROM prediction_requests WHERE attempts = 2").fetchone()
    assert row == (held,)


def test_a_listener_killed_with_two_writes_in_flight_loses_nothing_and_duplicates_nothing(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    env = {
        **stand_in_env,
        "LISTENER_LEASE_SECONDS": "2",
        "LISTENER_SWEEP_SECONDS": "1",
        "LISTENER_RECORD_WRITERS": "2",
    }
    submit(conn, 6000)
    first = start("listener", ["--batch-size", "100"], process_env(db_url, env), tmp_path / "first.log")
    try:
        wait_listening(conn, first, log=tmp_path / "first.log")
        (killed_id, _, _) = live_listeners(conn)[0]
        assert wait_until(lambda: completed_count(conn) >= 300, 20), log_text(tmp_path / "first.log")
        kill_while_two_write_behind(conn, first, killed_id)
    finally:
        stop(first, signal.SIGKILL)
    assert first.returncode == -signal.SIGKILL
    # The server finishes the statements the killed process had sent (both writes commit): wait for them.
    assert wait_until(lambda: work_backends(conn, killed_id) == [], 10)
    counts = status_counts(conn)
    # The two writes may both commit after the kill (nothing else held): mid-backlog is pending rows left.
    assert counts.get("pending", 0) > 0, counts
    held = counts.get("running", 0)
    assert conn.execute("SELECT count(*) FROM prediction_results").fetchone() == (counts["completed"],)

    second = start("listener", ["--batch-size", "100"], process_env(db_url, env), tmp_path / "second.log")
    try:
        assert wait_until(all_done(conn), 30), log_text(tmp_path / "second.log")
    finally:
        assert stop(second) == 0
    assert_exactly_one_result_each(conn, 6000)
    # Only the rows the dead listener still held (claimed, their outcome not written) were claimed again.
    row = conn.execute("SELECT count(*) FROM prediction_requests WHERE attempts = 2").fetchone()
    assert row == (held,)
    assert conn.execute("SELECT max(attempts) FROM prediction_requests").fetchone() == (2,)


def test_two_writers_take_their_batches_in_order_and_count_each_once(
    db_url: str, conn: psycopg.Connection
) -> None:
    registry = FakeRegistry("logistic")
    quiet = {"sweep_seconds": 60.0, "heartbeat_seconds": 60.0, "ping_seconds": 60.0}
    config = ListenerConfig(database_url=db_url, batch_size=25, record_writers=2, **quiet)
    listener = Listener(config, registry=registry)
    taken_order: list[int] = []
    after_commit = listener._after_commit

    def recording_order(claims: list[Any], outcome: Any) -> None:
        taken_order.append(min(c.id for c in claims))
        after_commit(claims, outcome)

    listener._after_commit = recording_order  # type: ignore[method-assign]
    most_in_flight = 0
    submit_one = listener._recorder.submit

    def watching(claims: list[Any], outcome: Any) -> None:
        nonlocal most_in_flight
        submit_one(claims, outcome)
        most_in_flight = max(most_in_flight, listener._recorder.in_flight)

    listener._recorder.submit = watching  # type: ignore[method-assign]
    submit(conn, 1000)
    with running_in_thread(listener):
        assert wait_until(all_done(conn), 30)
        assert wait_until(lambda: listener.heartbeat.processed == 1000, 10)
    assert most_in_flight == 2  # two writes really were in flight at once
    assert_exactly_one_result_each(conn, 1000)
    # Each batch's post-commit work ran once, oldest batch first.
    assert taken_order == sorted(taken_order) and len(taken_order) == len(set(taken_order))
    assert conn.execute("SELECT DISTINCT attempts FROM prediction_requests").fetchall() == [(1,)]


class CutsItsListenerWhileWritingBehind(FakeHandle):
    """On its third batch (the first two claimed, the second written in the background meanwhile) the
    listener's work connections are terminated by the server, as a restart or a DBA would."""

    def __init__(self, admin: psycopg.Connection) -> None:
        super().__init__("logistic")
        self.admin = admin
        self.app_name = ""

    def predict(self, features: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        if len(self.calls) == 2:
            self.admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [self.app_name],
            )
        return super().predict(features)


def test_outcomes_in_flight_when_the_connections_drop_are_written_once_after_reconnecting(
    db_url: str, conn: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    registry = FakeRegistry("logistic")
    handle = CutsItsListenerWhileWritingBehind(conn)
    registry.handles["logistic"] = handle
    quiet = {"sweep_seconds": 60.0, "heartbeat_seconds": 60.0, "ping_seconds": 60.0}
    listener = Listener(ListenerConfig(database_url=db_url, batch_size=50, **quiet), registry=registry)
    handle.app_name = f"listener {listener.listener_id}"
    submit(conn, 500)
    with running_in_thread(listener):
        assert wait_until(all_done(conn), 30)
    assert "lost the database" in caplog.text  # really cut mid-backlog, then reconnected
    assert_exactly_one_result_each(conn, 500)
    # Every batch inferred once (the outcomes in hand were kept and written after the reconnect), and no
    # row counted an extra attempt.
    assert sum(handle.calls) == 500, handle.calls
    assert conn.execute("SELECT DISTINCT attempts FROM prediction_requests").fetchall() == [(1,)]
