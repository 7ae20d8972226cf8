"""`python -m listener` as a real process against a real PostgreSQL: wake-up, drain, kill, stop, scale-out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.listener.helpers import (
    all_done,
    assert_exactly_one_result_each,
    assert_stopped_mid_backlog,
    status_counts,
    submit,
    valid_features,
    wait_until,
)
from tests.listener.procs import (
    backends,
    kill_while_holding_claims,
    listener_mid_backlog,
    live_listeners,
    log_text,
    two_listeners_drain,
    wait_listening,
)
from tests.stack import ROOT, process_env, running_listener, start, stop

pytestmark = pytest.mark.slow


@pytest.mark.timing
def test_a_request_submitted_while_idle_completes_well_under_a_second(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    with running_listener(db_url, env=stand_in_env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        warm = submit(conn, 1)  # first use loads the model
        assert wait_until(all_done(conn, warm), 10), log_text(listener_log)
        time.sleep(0.3)  # idle: blocked on the notification wait, whose timeout (the sweep) is 60 s
        started = time.monotonic()
        ids = submit(conn, 1)
        assert wait_until(all_done(conn, ids), 1.0, interval=0.005), "NOTIFY did not wake the listener"
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert_exactly_one_result_each(conn, 2)


def test_a_thousand_rows_inserted_in_one_statement_all_complete(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    with running_listener(db_url, "--batch-size", "128", env=stand_in_env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        submit(conn, 1000)  # one statement: one notification
        assert wait_until(all_done(conn), 20), log_text(listener_log)
    assert_exactly_one_result_each(conn, 1000)
    timestamps = conn.execute(
        "SELECT count(*) FROM prediction_requests"
        " WHERE created_at <= claimed_at AND claimed_at <= completed_at"
    ).fetchone()
    assert timestamps == (1000,)  # a DBA can split latency into queue wait and inference


def test_a_listener_killed_mid_backlog_loses_nothing_and_duplicates_nothing(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    env = {**stand_in_env, "LISTENER_LEASE_SECONDS": "2", "LISTENER_SWEEP_SECONDS": "1"}
    with listener_mid_backlog(db_url, conn, env, tmp_path / "first.log", 2000) as first:
        (killed_id, _, _) = live_listeners(conn)[0]
        held = kill_while_holding_claims(conn, first, killed_id)
    assert first.returncode == -signal.SIGKILL
    counts = status_counts(conn)
    assert counts.get("running") == held and counts.get("pending", 0) > 0  # really mid-backlog

    with running_listener(db_url, "--batch-size", "20", env=env, log=tmp_path / "second.log"):
        assert wait_until(all_done(conn), 30), log_text(tmp_path / "second.log")
    assert_exactly_one_result_each(conn, 2000)
    # The rows the dead listener held were claimed twice: once by it, once after its lease expired.
    row = conn.execute("SELECT count(*) FROM prediction_requests WHERE attempts = 2").fetchone()
    assert row == (held,)
    crashed = conn.execute("SELECT stopped_at FROM listener_heartbeats WHERE listener_id = %s", [killed_id])
    assert crashed.fetchone() == (None,)  # a crash, as a DBA sees it: no clean stop recorded


def test_two_listeners_share_a_backlog_without_duplicates(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    two_listeners_drain(db_url, conn, stand_in_env, tmp_path, 5000, batch_size=100)
    claimed_by = conn.execute("SELECT count(DISTINCT claimed_by) FROM prediction_requests").fetchone()
    assert claimed_by == (2,)


def test_ten_thousand_requests_submitted_with_no_listener_are_all_processed(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    submit(conn, 10_000)
    with running_listener(db_url, env=stand_in_env, log=listener_log):
        assert wait_until(all_done(conn), 90), log_text(listener_log)
    assert_exactly_one_result_each(conn, 10_000)


def test_poison_requests_fail_with_their_reason_and_their_neighbours_complete(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    good = submit(conn, 3)
    unknown_model = submit(conn, 1, model="no_such_model")
    bad_value = submit(conn, 1, features={**valid_features(), "age": "forty"})
    good += submit(conn, 3)
    with running_listener(db_url, env=stand_in_env, log=listener_log):  # all in one claimed batch
        assert wait_until(all_done(conn), 20), log_text(listener_log)
    rows = dict(
        (i, (s, e))
        for i, s, e in conn.execute("SELECT id, status, error FROM prediction_requests").fetchall()
    )
    assert {rows[i][0] for i in good} == {"completed"}
    assert rows[unknown_model[0]][0] == "failed" and "no_such_model" in rows[unknown_model[0]][1]
    assert rows[bad_value[0]][0] == "failed" and "age" in rows[bad_value[0]][1]
    beat = conn.execute(
        "SELECT processed, failed, stopped_at IS NOT NULL FROM listener_heartbeats"
    ).fetchone()
    assert beat == (6, 2, True)


@pytest.mark.timing
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_during_a_backlog_exits_zero_quickly_and_leaves_nothing_claimed(
    db_url: str,
    conn: psycopg.Connection,
    listener_log: Path,
    sig: signal.Signals,
    stand_in_env: dict[str, str],
) -> None:
    with listener_mid_backlog(db_url, conn, stand_in_env, listener_log, 5000) as proc:
        started = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(10)
        elapsed = time.monotonic() - started
    assert code == 0, log_text(listener_log)
    assert elapsed < 5
    assert_stopped_mid_backlog(conn, 5000)
    # Released rows are as if never claimed.
    assert conn.execute(
        "SELECT DISTINCT attempts FROM prediction_requests WHERE status = 'pending'"
    ).fetchall() == [(0,)]
    assert conn.execute("SELECT stopped_at IS NOT NULL FROM listener_heartbeats").fetchall() == [(True,)]


def test_poll_only_mode_works_without_listen(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    args = ("--poll-only", "--poll-interval", "0.2")
    with running_listener(db_url, *args, env=stand_in_env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        assert [mode for _, _, mode in live_listeners(conn)] == ["poll"]
        assert backends(conn, listen=True) == [] and len(backends(conn, listen=False)) == 1
        ids = submit(conn, 50)
        assert wait_until(all_done(conn, ids), 30), log_text(listener_log)  # < the 60 s sweep: the poll
    assert_exactly_one_result_each(conn, 50)


def test_concurrency_runs_k_workers_that_each_register_and_all_stop_cleanly(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    proc = start(
        "listener",
        ["--concurrency", "2", "--batch-size", "50"],
        process_env(db_url, stand_in_env),
        listener_log,
    )
    try:
        wait_listening(conn, proc, n=2, log=listener_log)
        workers = live_listeners(conn)
        assert [lid.rsplit(":", 1)[1] for lid, _, _ in workers] == ["0", "1"]
        assert len({pid for _, pid, _ in workers}) == 2 and proc.pid not in {pid for _, pid, _ in workers}
        assert len(backends(conn, listen=True)) == 2
        submit(conn, 2000)
        assert wait_until(all_done(conn), 30), log_text(listener_log)
    finally:
        code = stop(proc)
    assert code == 0, log_text(listener_log)
    assert_exactly_one_result_each(conn, 2000)
    assert live_listeners(conn) == []
    for _, pid, _ in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_without_database_url_it_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "listener"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "DATABASE_URL is not set" in done.stderr and "Traceback" not in done.stderr


def test_poll_interval_without_poll_only_is_refused(db_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "listener", "--poll-interval", "1"],
        cwd=ROOT,
        env=process_env(db_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--poll-interval only applies with --poll-only" in done.stderr
