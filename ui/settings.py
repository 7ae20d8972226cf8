"""Dashboard settings, read from the environment in this one place."""

from __future__ import annotations

import os
from dataclasses import dataclass

# The API's default port is service/__main__.py's DEFAULT_PORT, written again here: the dashboard talks to
# the API over HTTP only and may not import service (the import-linter contracts in pyproject.toml).
DEFAULT_API_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class UiSettings:
    api_url: str
    api_key: str | None
    timeout_seconds: float
    predict_wait_seconds: float


def get_settings() -> UiSettings:
    """Settings from FUTURISYS_* variables; the defaults suit `make run` on a laptop."""
    return UiSettings(
        api_url=os.environ.get("FUTURISYS_API_URL", DEFAULT_API_URL).rstrip("/"),
        api_key=os.environ.get("FUTURISYS_API_KEY") or None,
        timeout_seconds=float(os.environ.get("FUTURISYS_API_TIMEOUT", "10")),
        predict_wait_seconds=float(os.environ.get("FUTURISYS_PREDICT_WAIT", "10")),
    )
