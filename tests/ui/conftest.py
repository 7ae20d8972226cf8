"""Fixtures of the dashboard tests: one real stack (API + listener, stand-in models) per test module.

A module shares one disposable database and one API process: starting them per test would cost
seconds each. Tests that need an empty history filter on their own model or time instead.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from model_store import register_manifest
from tests.pg import Databases, database_url
from tests.stack import ROOT, free_port, run_module, running_api, running_listener
from tests.stand_ins import serving

APP = str(ROOT / "ui" / "app.py")


@dataclass(frozen=True)
class Stack:
    api_url: str
    api_key: str
    db_url: str
    logs: Path

    def predict(self, features: dict[str, Any], model_name: str | None = None) -> dict[str, Any]:
        """Submit one request straight to the API (test setup), waiting for its answer."""
        body = {"features": features, **({"model_name": model_name} if model_name else {})}
        response = httpx.post(
            f"{self.api_url}/predictions/request",
            params={"wait": 30},
            json=body,
            headers={"X-API-Key": self.api_key},
            timeout=45,
        )
        response.raise_for_status()
        return response.json()

    def log_text(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.logs.glob("*.log")
        )


def screenshots_dir(environ: Mapping[str, str]) -> Path:
    """Where the browser test shoots: an ignored folder unless SCREENSHOTS_DIR says (`make screenshots`)."""
    return Path(environ.get("SCREENSHOTS_DIR") or ROOT / ".run" / "screenshots")


def create_api_key(db_url: str, name: str, scopes: str = "submit,read") -> str:
    """A real API key, made the way an operator makes one (`python -m service keys create`); by default
    the dashboard's scopes (it submits, and reads every request)."""
    done = run_module(db_url, "service", "keys", "create", name, "--scope", scopes)
    done.check_returncode()
    return done.stdout.strip().splitlines()[0]


def wait_for_listener(stack: Stack, listener: subprocess.Popen, timeout: float = 90.0) -> None:
    """Block until the API's /metrics counts a live listener, so the first test is not a race (generously:
    a listener loading the real models can take half a minute to start on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listener.poll() is not None:
            raise RuntimeError(f"the listener exited with {listener.returncode}:\n{stack.log_text()}")
        metrics = httpx.get(f"{stack.api_url}/metrics", timeout=30).text
        if re.search(r"^prediction_listeners_alive [1-9]", metrics, re.MULTILINE):
            return
        time.sleep(0.2)
    raise TimeoutError(f"no listener heartbeat within {timeout}s:\n{stack.log_text()}")


@pytest.fixture(scope="module")
def stack_env(stand_in_store: Path) -> dict[str, str]:
    """Environment of the module's API and listener: stand-in models unless a module overrides it."""
    return serving(stand_in_store)


@pytest.fixture(scope="module")
def stack(
    databases: Databases,
    template_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    stack_env: dict[str, str],
) -> Iterator[Stack]:
    """API and listener on a fresh migrated database, with an API key, for the whole module."""
    name = databases.create(template=template_db)
    db_url = database_url(databases.server_url, name)
    logs = tmp_path_factory.mktemp("ui-stack")
    try:
        if "MODEL_STORE_DIR" in stack_env:
            register_manifest(db_url, Path(stack_env["MODEL_STORE_DIR"]))
        key = create_api_key(db_url, "ui-tests")
        with ExitStack() as procs:
            api_url = procs.enter_context(running_api(db_url, env=stack_env, log=logs / "api.log"))
            listener = procs.enter_context(running_listener(db_url, env=stack_env, log=logs / "listener.log"))
            stack = Stack(api_url, key, db_url, logs)
            wait_for_listener(stack, listener)
            yield stack
    finally:
        databases.drop(name)


@pytest.fixture
def ui_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The dashboard pointed at the module's stack, with its key."""
    monkeypatch.setenv("FUTURISYS_API_URL", stack.api_url)
    monkeypatch.setenv("FUTURISYS_API_KEY", stack.api_key)
    # Generous on a busy machine (the defaults suit a laptop): a call ends when the API answers.
    monkeypatch.setenv("FUTURISYS_API_TIMEOUT", "30")
    monkeypatch.setenv("FUTURISYS_PREDICT_WAIT", "30")
    return stack


@pytest.fixture
def dead_api_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """The dashboard pointed at a port where nothing listens."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("FUTURISYS_API_URL", url)
    monkeypatch.setenv("FUTURISYS_API_TIMEOUT", "2")
    return url
