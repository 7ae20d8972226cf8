"""`--concurrency K`: a worker that dies is replaced by a fresh one; the supervisor still stops cleanly."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psycopg
import pytest

from tests.listener.helpers import all_done, assert_exactly_one_result_each, submit, wait_until
from tests.listener.procs import live_listeners, log_text, wait_listening
from tests.stack import process_env, start, stop

pytestmark = pytest.mark.slow


def worker_pids(conn: psycopg.Connection) -> set[int]:
    return {pid for _, pid, _ in live_listeners(conn)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_worker_is_replaced_and_the_pool_keeps_serving(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    proc = start("listener", ["--concurrency", "2"], process_env(db_url, stand_in_env), listener_log)
    try:
        wait_listening(conn, proc, n=2, log=listener_log)
        first = worker_pids(conn)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)

        # The dead worker's heartbeat row stays open; its replacement registers a row of its own.
        assert wait_until(lambda: len(worker_pids(conn) - first) == 1, 30), log_text(listener_log)
        assert proc.poll() is None
        assert "exited with code -9; restarting" in log_text(listener_log)
        replacement = (worker_pids(conn) - first).pop()

        ids = submit(conn, 500)
        assert wait_until(all_done(conn, ids), 30), log_text(listener_log)
        assert_exactly_one_result_each(conn, 500)
    finally:
        code = stop(proc)
    assert code == 0, log_text(listener_log)
    assert not alive(replacement) and not alive(max(first))
