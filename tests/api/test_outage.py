"""A database outage turns answers into 503s; when it returns, the same API process serves again."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from sql.embedded import EmbeddedPostgres
from sql.migrate import migrate
from tests.api.conftest import COMPLETE, employee
from tests.pg import database_url
from tests.stack import running_api
from tests.stand_ins import deploy_stand_ins

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


def test_stopping_postgres_gives_503_and_restarting_it_restores_service(
    tmp_path: Path, pg_data_dir: Path, stand_in_store: Path
) -> None:
    server = EmbeddedPostgres(pg_data_dir)
    try:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE outage")
        url = database_url(server.url(), "outage")
        migrate(url)
        with running_api(url, env=deploy_stand_ins(url, stand_in_store), log=tmp_path / "api.log") as base:
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


def complete_newest(conn: psycopg.Connection, probability: float) -> str:
    """Write a result for the newest request, as the listener would; its request id."""
    [request_id] = conn.execute(
        "SELECT request_id::text FROM prediction_requests ORDER BY id DESC LIMIT 1"
    ).fetchone()
    conn.execute(COMPLETE, {"request_id": request_id, "prediction": 1, "probability": probability})
    return request_id


def count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM prediction_requests").fetchone()[0]


def connect_when_back(url: str) -> psycopg.Connection:
    for _ in range(100):
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise AssertionError("PostgreSQL did not come back")


def test_waits_across_an_outage_answer_results_written_while_listen_reconnects(
    tmp_path: Path, pg_data_dir: Path, stand_in_store: Path
) -> None:
    server = EmbeddedPostgres(pg_data_dir)
    try:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE outage")
        url = database_url(server.url(), "outage")
        migrate(url)
        with (
            running_api(url, env=deploy_stand_ins(url, stand_in_store), log=tmp_path / "api.log") as base,
            ThreadPoolExecutor(2) as pool,
        ):
            eventually(lambda: httpx.get(f"{base}/health", timeout=10).json()["listening"], 15, "listening")
            request_id = httpx.post(f"{base}/predictions/request", json={"features": employee()}).json()[
                "request_id"
            ]
            # A caller waits through the outage; its result is written the moment PostgreSQL is back.
            waiting = pool.submit(httpx.get, f"{base}/predictions/{request_id}?wait=25", timeout=40)
            time.sleep(0.5)
            server.stop()
            time.sleep(7)  # long enough for an unwatched reconnect backoff to reach its cap (5 s)
            server._server.start()
            with connect_when_back(url) as conn:
                complete_newest(conn, 0.6)
            written = time.monotonic()
            response = waiting.result()
            assert response.status_code == 200 and response.json()["result"]["probability"] == 0.6
            # Woken when the LISTEN connection came back (promptly, since someone waited).
            assert time.monotonic() - written < 2.0

            # A caller that submits right after the outage, its result landing at once, gets it.
            eventually(lambda: submit(base) == 202, 30, "POST answers 202 again after the restart")
            with psycopg.connect(url, autocommit=True) as conn:
                stored = count(conn)
            body = {"features": employee()}
            call = pool.submit(httpx.post, f"{base}/predictions/request?wait=3", json=body, timeout=9)
            with psycopg.connect(url, autocommit=True) as conn:
                eventually(lambda: count(conn) > stored, 10, "the waiting caller's row is stored")
                complete_newest(conn, 0.7)
            response = call.result()
            assert response.status_code == 200, response.text
            assert response.json()["result"]["probability"] == 0.7
            assert httpx.get(f"{base}/health", timeout=10).json()["status"] == "ok"
    finally:
        server.stop()
