"""`make run` started as a new user starts it (scripts/run_stack.py), in a temp directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.stack import ROOT, free_port, wait_http

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
        submitted = httpx.post(
            self.api + "/predictions/request", json=EXAMPLE_REQUEST, headers={"X-API-Key": self.key()}
        )
        assert submitted.status_code == 202, submitted.text
        request_id = submitted.json()["request_id"]
        deadline = time.monotonic() + 30
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = httpx.get(f"{self.api}/predictions/{request_id}", headers={"X-API-Key": self.key()}).json()
            if body["status"] == "completed":
                break
            time.sleep(0.1)
        assert body["status"] == "completed", body
        return body

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; the launcher's exit code."""
        if self.launcher.poll() is None:
            self.launcher.send_signal(signal.SIGTERM)
        return self.launcher.wait(60)


def launch(workdir: Path, store: Path, log_name: str = "run.log") -> MakeRun:
    """Start `make run`'s launcher on free ports with its data in `workdir`; return once /health answers."""
    api_port, ui_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ENV", "FUTURISYS_API_KEY"}} | {
        "EMBEDDED_PG_DIR": str(workdir / "pgdata"),
        "MODEL_STORE_DIR": str(store),
        "FUTURISYS_API_PORT": str(api_port),
        "FUTURISYS_UI_PORT": str(ui_port),
        "FUTURISYS_RUN_DIR": str(workdir / "run"),
    }
    log = workdir / log_name
    launcher = subprocess.Popen(
        [sys.executable, "scripts/run_stack.py"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    run = MakeRun(
        launcher,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{ui_port}",
        workdir / "pgdata",
        workdir / "run",
        log,
        env,
    )
    try:
        wait_http(run.api + "/health", launcher, timeout=120)
    except Exception as exc:
        run.stop()
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{exc}\n--- launcher log (tail) ---\n{tail}") from exc
    return run


@pytest.fixture
def model_store_copy(trained_store: Path, tmp_path: Path) -> Path:
    store = tmp_path / "artifacts"
    shutil.copytree(trained_store, store)
    return store


@pytest.fixture
def make_run(model_store_copy: Path, tmp_path: Path) -> Iterator[MakeRun]:
    run = launch(tmp_path, model_store_copy)
    try:
        yield run
    finally:
        run.stop()
