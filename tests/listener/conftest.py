"""Fixtures of the listener tests: environment of a listener subprocess, and a log file to show on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

# Stand-in models (ENV=test), and a sweep so long that only NOTIFY or a reconnect can explain a fast answer.
STANDIN_ENV = {"ENV": "test", "LISTENER_SWEEP_SECONDS": "60", "LISTENER_LOG_LEVEL": "INFO"}


@pytest.fixture
def listener_log(tmp_path: Path) -> Path:
    return tmp_path / "listener.log"
