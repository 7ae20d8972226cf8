"""`make run` started as a new user starts it (scripts/run_stack.py), in a temp directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from scripts import processes
from scripts.processes import python
from tests.stack import ROOT, free_port

READY_LINE = "Ctrl-C stops everything."  # what make run prints once the API, listener and dashboard are up

EXAMPLE_REQUEST: dict[str, Any] = json.loads((ROOT / "docs" / "example-request.json").read_text())


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres" and str(data_dir) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


@dataclass
class MakeRun:
    """A running `make run`; `env` is what a second terminal has (no DATABASE_URL)."""

    launcher: subprocess.Popen
    api: str
    ui: str
    data_dir: Path
    run_dir: Path
    log: Path
    env: dict[str, str]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def key(self) -> str:
        return (self.run_dir / "api-key").read_text().strip()

    def predict(self) -> dict[str, Any]:
        """Submit the README's example request with the development key; return it once completed."""
        headers = {"X-API-Key": self.key()}
        url = self.api + "/predictions/request"
        submitted = httpx.post(url, json=EXAMPLE_REQUEST, headers=headers, timeout=30)
        assert submitted.status_code == 202, submitted.text
        request_id = submitted.json()["request_id"]
        deadline = time.monotonic() + 90  # a busy machine; the loop ends at the answer
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = httpx.get(f"{self.api}/predictions/{request_id}", headers=headers, timeout=30).json()
            if body["status"] == "completed":
                break
            time.sleep(0.1)
        assert body["status"] == "completed", body
        return body

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; the launcher's exit code."""
        if self.launcher.poll() is None:
            self.launcher.send_signal(signal.SIGTERM)
        return self.launcher.wait(180)  # it stops API, listener, UI and PostgreSQL in turn


def start_launcher(
    workdir: Path, store: Path, data_dir: Path, log_name: str = "run.log", api_port: int | None = None
) -> MakeRun:
    """Start `make run`'s launcher on free ports (or `api_port`), its cluster in `data_dir`, the rest in
    `workdir`; return at once."""
    api_port, ui_port = api_port or free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ENV", "FUTURISYS_API_KEY"}} | {
        "EMBEDDED_PG_DIR": str(data_dir),
        "MODEL_STORE_DIR": str(store),
        "FUTURISYS_API_PORT": str(api_port),
        "FUTURISYS_UI_PORT": str(ui_port),
        "FUTURISYS_RUN_DIR": str(workdir / "run"),
    }
    log = workdir / log_name
    launcher = processes.start(python("scripts/run_stack.py"), env, log)
    return MakeRun(
        launcher,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{ui_port}",
        data_dir,
        workdir / "run",
        log,
        env,
    )


def launch(workdir: Path, store: Path, data_dir: Path, log_name: str = "run.log") -> MakeRun:
    """`start_launcher`, returning once it says it is ready, as a user waits before the README's second
    terminal (else its error quotes the launcher's log)."""
    run = start_launcher(workdir, store, data_dir, log_name)

    def ready() -> bool:
        return run.log.is_file() and READY_LINE in run.log.read_text(errors="replace")

    try:
        processes.wait_until(ready, run.launcher, "make run's ready line", timeout=180, log=run.log)
    except Exception:
        run.stop()
        raise
    return run


@pytest.fixture
def make_run(store: Path, tmp_path: Path, pg_data_dir: Path) -> Iterator[MakeRun]:
    run = launch(tmp_path, store, pg_data_dir)
    try:
        yield run
    finally:
        run.stop()
