"""The image's HEALTHCHECK (docker/healthcheck.py) asks each process on the port it serves: the one its
command line names, else the API's own default (service/__main__.py), so the two cannot drift apart."""

from __future__ import annotations

import runpy

import pytest

from service.__main__ import DEFAULT_PORT
from sql.settings import PROJECT_ROOT

urls = runpy.run_path(str(PROJECT_ROOT / "docker" / "healthcheck.py"))["urls"]


def test_the_api_is_asked_on_its_port_flag_or_else_the_services_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FUTURISYS_API_PORT", raising=False)
    assert urls(["python", "-m", "service", "--host", "0.0.0.0", "--port", "9001"]) == [
        "http://127.0.0.1:9001/health"
    ]
    assert urls(["python", "-m", "service"]) == [f"http://127.0.0.1:{DEFAULT_PORT}/health"]
    space = ["python", "/app/scripts/run_stack.py"]
    assert urls(space)[0] == f"http://127.0.0.1:{DEFAULT_PORT}/health"
    monkeypatch.setenv("FUTURISYS_API_PORT", "9002")
    assert urls(space)[0] == "http://127.0.0.1:9002/health"


def test_a_process_serving_nothing_is_healthy_while_alive() -> None:
    assert urls(["python", "-m", "listener"]) == []
