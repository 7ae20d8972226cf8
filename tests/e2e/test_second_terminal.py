"""A second terminal beside `make run`: the README's commands work as written, and
every command of its Processes table leaves the stack's embedded PostgreSQL running; only `make run`
stops it."""

from __future__ import annotations

import json
import re
import shutil
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
        deadline = time.monotonic() + 120
        while not up(proc):
            assert proc.poll() is None, f"{args} exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"{args} did not come up"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def readme_block(after: str) -> str:
    """The first ```sh block of the README after the line `after`."""
    text = (ROOT / "README.md").read_text()
    found = re.search(re.escape(after) + r".*?```sh\n(.*?)```", text, re.S)
    assert found, f"no sh block after {after!r} in README.md"
    return found.group(1)


def run_readme_block(make_run: MakeRun, after: str) -> str:
    """Run a README block with bash as a user would, on this stack's port, key file and interpreter."""
    script = (
        readme_block(after)
        .replace("http://127.0.0.1:8000", make_run.api)
        .replace(".run/api-key", str(make_run.run_dir / "api-key"))
        .replace(".venv/bin/python", sys.executable)
    )
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=make_run.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, (script, out.stdout, out.stderr)
    return out.stdout


def has_heartbeat(database_url: str, proc: subprocess.Popen) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM listener_heartbeats WHERE pid = %s", [proc.pid]).fetchone()
    return row == (1,)


def test_the_readme_and_every_admin_command_work_beside_make_run_and_leave_it_up(make_run: MakeRun) -> None:
    assert shutil.which("jq") and shutil.which("curl"), "the README's quick start uses curl and jq"
    postmaster = {p.pid for p in postgres_processes(make_run.data_dir)}
    assert postmaster

    def still_up(after: str) -> None:
        assert {p.pid for p in postgres_processes(make_run.data_dir)} >= postmaster, f"{after} stopped it"
        assert answers(make_run.api + "/health"), f"/health is not ok after {after}"

    lines = run_readme_block(make_run, "Then, in another terminal").splitlines()
    answered = [json.loads(line) for line in lines]
    assert answered[0]["status"] == "completed" and answered[0]["result"]["prediction"] in (0, 1)
    assert answered[1]["prediction"] in (0, 1)  # submit-and-wait: the result itself
    # The lookup runs right after the batch: some of its three may still be pending.
    assert len(answered) == 5 and {item["status"] for item in answered[2:]} <= {"pending", "completed"}
    still_up("the quick start")

    keys = run_readme_block(make_run, "revoking the last key does not reopen the API")
    for name, scopes in [("hr-portal", "submit"), ("analyst", "read"), ("ops", "read,admin")]:
        assert re.search(rf"^{name}\t{scopes}\tcreated .*\tactive$", keys, re.M), keys
    still_up("the README's keys commands")

    commands: list[tuple[str, ...]] = [
        ("sql",),
        ("sql", "erase", "--subject-ref", "E-nobody", "--dry-run"),
        ("sql", "erase", "--subject-ref", "E-nobody"),
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
