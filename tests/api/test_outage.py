"""A database outage turns answers into 503s; when it returns, the same API process serves again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from sql.embedded import EmbeddedPostgres
from sql.migrate import migrate
from tests.api.conftest import TEST_ENV, employee
from tests.pg import database_url
from tests.stack import running_api

pytestmark = pytest.mark.slow


def eventually(probe: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `probe` until it is true; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if probe():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def submit(base: str) -> int:
    try:
        return httpx.post(
            f"{base}/predictions/request", json={"features": employee()}, timeout=10
        ).status_code
    except httpx.HTTPError:
        return -1


def test_stopping_postgres_gives_503_and_restarting_it_restores_service(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = EmbeddedPostgres(data)
    try:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE outage")
        url = database_url(server.url(), "outage")
        migrate(url)
        with running_api(url, env=TEST_ENV, log=tmp_path / "api.log") as base:
            assert submit(base) == 202

            server.stop()
            eventually(lambda: submit(base) == 503, 15, "POST answers 503 while PostgreSQL is down")
            response = httpx.get(f"{base}/health", timeout=10)
            assert response.status_code == 503
            assert response.json()["database"] == "unreachable"
            response = httpx.post(f"{base}/predictions/request", json={"features": employee()}, timeout=10)
            assert response.status_code == 503
            assert "database unavailable" in response.json()["detail"]
            assert "Traceback" not in response.text

            # EmbeddedPostgres has no start(); pgserver keeps the stopped handle, which starts again.
            server._server.start()
            took = eventually(lambda: submit(base) == 202, 30, "POST answers 202 again after the restart")
            eventually(
                lambda: httpx.get(f"{base}/health", timeout=10).json()["listening"],
                15,
                "the LISTEN connection is back",
            )
            assert httpx.get(f"{base}/health", timeout=10).status_code == 200
            print(f"recovered {took:.1f}s after the restart")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (2,)
    finally:
        server.stop()
