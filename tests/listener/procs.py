"""Watching real listener processes from the database (their heartbeat rows and backends)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.listener.helpers import all_done, assert_exactly_one_result_each, submit, wait_until
from tests.stack import process_env, start, stop


def live_listeners(conn: psycopg.Connection) -> list[tuple[str, int, str]]:
    """(listener_id, pid, mode) of every registered listener that has not stopped."""
    return conn.execute(
        "SELECT listener_id, pid, mode FROM listener_heartbeats WHERE stopped_at IS NULL ORDER BY listener_id"
    ).fetchall()


def wait_listening(
    conn: psycopg.Connection, proc: subprocess.Popen, n: int = 1, log: Path | None = None
) -> None:
    """Wait until n listeners registered (each registers after its LISTEN is in place): generously, as
    starting Python processes that import the models can take half a minute on a busy machine."""
    ok = wait_until(lambda: len(live_listeners(conn)) >= n or proc.poll() is not None, 90)
    assert ok and proc.poll() is None, f"listener did not start (exit {proc.poll()}):\n{log_text(log)}"


def backends(conn: psycopg.Connection, listen: bool) -> list[int]:
    """Server pids of the listeners' LISTEN (or work) connections on this database."""
    pattern = "listener %LISTEN" if listen else "listener %:%:%"
    rows = conn.execute(
        "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name LIKE %s",
        [pattern],
    ).fetchall()
    return [pid for pid, name in rows if name.endswith("LISTEN") == listen]


def log_text(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log and log.exists() else "(no log)"


def kill_while_holding_claims(conn: psycopg.Connection, proc: subprocess.Popen, listener_id: str) -> int:
    """SIGKILL the process at a moment it holds running rows (freeze, look, thaw, retry); returns how many."""
    for _ in range(200):
        os.kill(proc.pid, signal.SIGSTOP)
        # A statement sent just before the freeze still runs on the server: let it finish first.
        wait_until(lambda: work_backend_idle(conn, listener_id), 2)
        row = conn.execute(
            "SELECT count(*) FROM prediction_requests WHERE status = 'running' AND claimed_by = %s",
            [listener_id],
        ).fetchone()
        held = row[0] if row else 0
        if held:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return held
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.003)
    raise AssertionError("never caught the listener holding a claim")


def work_backend_idle(conn: psycopg.Connection, listener_id: str) -> bool:
    row = conn.execute(
        "SELECT bool_and(state = 'idle') FROM pg_stat_activity WHERE application_name = %s",
        [f"listener {listener_id}"],
    ).fetchone()
    return bool(row and row[0])


def completed_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM prediction_requests WHERE status = 'completed'").fetchone()
    return row[0] if row else 0


@contextmanager
def listener_mid_backlog(
    db_url: str, conn: psycopg.Connection, env: Mapping[str, str], log: Path, requests: int
) -> Iterator[subprocess.Popen]:
    """A listener (batches of 20) on a backlog of `requests`, yielded once it has completed 100 of them;
    SIGKILLed after the block if it still runs."""
    submit(conn, requests)
    proc = start("listener", ["--batch-size", "20"], process_env(db_url, env), log)
    try:
        wait_listening(conn, proc, log=log)
        assert wait_until(lambda: completed_count(conn) >= 100, 20), log_text(log)
        yield proc
    finally:
        stop(proc, signal.SIGKILL)


def two_listeners_drain(
    db_url: str, conn: psycopg.Connection, env: Mapping[str, str], logs: Path, requests: int, batch_size: int
) -> None:
    """Two listeners drain `requests` submitted once both listen, and stop cleanly; each request gets one
    result, each listener processes some, and their counts add up to `requests` (nobody counted one twice)."""
    a = start("listener", ["--batch-size", str(batch_size)], process_env(db_url, env), logs / "a.log")
    b = start("listener", ["--batch-size", str(batch_size)], process_env(db_url, env), logs / "b.log")
    try:
        wait_listening(conn, a, n=2, log=logs / "a.log")
        submit(conn, requests)
        assert wait_until(all_done(conn), 60), log_text(logs / "a.log")
    finally:
        assert stop(a) == 0 and stop(b) == 0
    assert_exactly_one_result_each(conn, requests)
    per_listener = conn.execute("SELECT listener_id, processed FROM listener_heartbeats").fetchall()
    assert len(per_listener) == 2 and all(processed > 0 for _, processed in per_listener), per_listener
    assert sum(processed for _, processed in per_listener) == requests
