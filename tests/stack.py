"""Start the real processes (API, listener) against a test database, and stop them afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.logins import process_urls

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(db_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process on db_url: the API and the listener each log in as their own role
    (tests/logins.py), unless `extra` names their URLs or another DATABASE_URL."""
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    if env["DATABASE_URL"] == db_url:
        for name, url in process_urls(db_url).items():
            env.setdefault(name, url)
    return env


def start(module: str, args: list[str], env: Mapping[str, str], log: Path | None = None) -> subprocess.Popen:
    """Start `python -m module args` in its own process group, output to `log` (or inherited)."""
    out = open(log, "ab") if log else None  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
    """Signal the process and wait; kill it if it outlives `timeout`. Returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


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
    db_url: str, env: Mapping[str, str] | None = None, log: Path | None = None, timeout: float = 30.0
) -> Iterator[str]:
    """`python -m service` on a free port; yields its base URL once /health answers."""
    port = free_port()
    proc = start("service", ["--host", "127.0.0.1", "--port", str(port)], process_env(db_url, env), log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health", proc, timeout)
        yield base
    finally:
        stop(proc)


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")
