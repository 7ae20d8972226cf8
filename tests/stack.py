"""Start the real processes (API, listener) against a test database, and stop them afterwards
(with the launcher `make run` and `make bench` use: scripts/processes.py)."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from scripts import processes
from scripts.processes import ROOT, free_port, python, wait_http
from tests.logins import process_urls

__all__ = [
    "ROOT",
    "free_port",
    "process_env",
    "real_env",
    "run_module",
    "running_api",
    "running_listener",
    "start",
    "stop",
    "wait_http",
]


def process_env(db_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process on db_url: the API and the listener each log in as their own role
    (tests/logins.py), unless `extra` names their URLs or another DATABASE_URL."""
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    if env["DATABASE_URL"] == db_url:
        for name, url in process_urls(db_url).items():
            env.setdefault(name, url)
    return env


def real_env(store: Path, **extra: str) -> dict[str, str]:
    """The environment of a process serving the models of `store` (deployed in its database), with the
    listener's sweep slowed to a minute: what wakes it is NOTIFY, not the sweep."""
    return {"ENV": "dev", "MODEL_STORE_DIR": str(store), "LISTENER_SWEEP_SECONDS": "60", **extra}


def run_module(
    db_url: str, module: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`python -m module ARGS` on db_url (its environment as `process_env` makes it), run to its end; its
    output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=process_env(db_url, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(module: str, args: list[str], env: Mapping[str, str], log: Path | None = None) -> subprocess.Popen:
    """Start `python -m module args` in its own process group, output to `log` (or inherited)."""
    return processes.start(python("-m", module, *args), env, log)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
    """Signal the process and wait; kill it (and its process group) if it outlives `timeout`.
    Returns its exit code. The wait ends when the process does; its bound is generous because a process
    that loaded the real models, writing its coverage data on a busy machine, can take many seconds to exit,
    and killing it would lose that data (and fail tests that expect a clean exit code)."""
    return processes.stop(proc, sig, timeout)


@contextmanager
def running_listener(
    db_url: str, *args: str, env: Mapping[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen]:
    """`python -m listener ARGS` against db_url for the duration of the block."""
    proc = start("listener", list(args), process_env(db_url, env), log)
    try:
        yield proc
    finally:
        stop(proc)


@contextmanager
def running_api(
    db_url: str, env: Mapping[str, str] | None = None, log: Path | None = None, timeout: float = 90.0
) -> Iterator[str]:
    """`python -m service` on a free port; yields its base URL once /health answers from it (waited for
    generously: starting a Python process can take half a minute on a busy machine)."""
    proc, base = processes.serve(
        lambda port: python("-m", "service", "--host", "127.0.0.1", "--port", str(port)),
        process_env(db_url, env),
        "/health",
        timeout,
        log,
    )
    try:
        yield base
    finally:
        stop(proc)


@contextmanager
def foreign_http_server() -> Iterator[int]:
    """Someone else's HTTP server (a thread of the test process), answering 200 on every path of the
    port it yields: what a launcher must not take for its own child's answer."""

    class OK(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OK)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
