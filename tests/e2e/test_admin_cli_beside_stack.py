"""Issue 10, defect 1: every command of the README's Processes table, run in a second terminal beside
`make run`, leaves the stack's embedded PostgreSQL running; only `make run` stops it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import psycopg
import pytest

from tests.e2e.conftest import MakeRun, postgres_processes
from tests.stack import ROOT, free_port

pytestmark = pytest.mark.slow


def run_cli(make_run: MakeRun, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=make_run.env | extra,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_briefly(
    make_run: MakeRun, args: list[str], up: Callable[[subprocess.Popen], bool], **extra: str
) -> None:
    """Start a long-running process of the table, wait until `up(proc)`, then SIGTERM it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=make_run.env | extra,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not up(proc):
            assert proc.poll() is None, f"{args} exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"{args} did not come up"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def has_heartbeat(database_url: str, proc: subprocess.Popen) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM listener_heartbeats WHERE pid = %s", [proc.pid]).fetchone()
    return row == (1,)


def test_every_admin_command_beside_make_run_leaves_its_database_up(make_run: MakeRun) -> None:
    postmaster = {p.pid for p in postgres_processes(make_run.data_dir)}
    assert postmaster

    def still_up(after: str) -> None:
        assert {p.pid for p in postgres_processes(make_run.data_dir)} >= postmaster, f"{after} stopped it"
        assert answers(make_run.api + "/health"), f"/health is not ok after {after}"

    commands: list[tuple[str, ...]] = [
        ("sql",),
        ("model_store",),
        ("model_store", "list"),
        ("model_store", "promote", "random_forest_e04"),
        ("service", "keys", "create", "second-terminal"),
        ("service", "keys", "list"),
        ("service", "keys", "revoke", "second-terminal"),
    ]
    for args in commands:
        out = run_cli(make_run, *args)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
        still_up(" ".join(args))

    port = free_port()
    run_briefly(
        make_run, ["service", "--port", str(port)], lambda _: answers(f"http://127.0.0.1:{port}/health")
    )
    still_up("a second API")

    # The listener is the one process of the table that needs DATABASE_URL; `make run` prints it.
    found = re.search(r"^database +(\S+)$", make_run.log_text(), re.M)
    assert found, make_run.log_text()
    url = found.group(1)
    run_briefly(make_run, ["listener"], lambda proc: has_heartbeat(url, proc), DATABASE_URL=url)
    still_up("a second listener")

    assert make_run.predict()["result"]["prediction"] in (0, 1)

    code = make_run.stop()
    log = make_run.log_text()
    assert code == 0, log[-3000:]
    assert "embedded PostgreSQL stopped" in log
    assert postgres_processes(make_run.data_dir) == [], log[-3000:]
    for symptom in ("database system is shutting down", "PID file", "Traceback"):
        assert symptom not in log, log[-3000:]
