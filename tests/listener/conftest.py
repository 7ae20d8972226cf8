"""Fixtures of the listener tests: environment of a listener subprocess, and a log file to show on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

# A sweep so long that only NOTIFY or a reconnect can explain a fast answer.
LISTENER_ENV = {"LISTENER_SWEEP_SECONDS": "60", "LISTENER_LOG_LEVEL": "INFO"}


@pytest.fixture
def stand_in_env(stand_in_env: dict[str, str]) -> dict[str, str]:
    """The root conftest's stand-in environment, for a listener process: its sweep and log level added."""
    return {**stand_in_env, **LISTENER_ENV}


@pytest.fixture
def listener_log(tmp_path: Path) -> Path:
    return tmp_path / "listener.log"
