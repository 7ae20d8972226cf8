"""A database outage turns answers into 503s; when it returns, the same API process serves again.

The outage is the API's link to PostgreSQL cut (tests/link.py): every connection closed, none accepted,
as when the server stops, made the same way on any server the suite runs on. The test's own
connections go to the server directly and see no outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.conftest import COMPLETE, employee
from tests.link import Link
from tests.stack import running_api

pytestmark = pytest.mark.slow

# The longest wait the API grants, and how long before its expiry an answer must come: an answer inside
# that (generous on a busy machine) was woken, by NOTIFY or by the reconnect, not by the wait running out.
LONG_WAIT = 30
MARGIN = 5


def eventually(probe: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `probe` until it is true; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if probe():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def woken(call: Future[httpx.Response], started: float) -> httpx.Response:
    """The response of a ?wait=LONG_WAIT call made at `started`, which must come before the wait expires."""
    try:
        return call.result(timeout=max(0.0, started + LONG_WAIT - MARGIN - time.monotonic()))
    except FutureTimeout:
        raise AssertionError("not woken: the call sat out its wait") from None


def submit(base: str) -> int:
    try:
        return httpx.post(
            f"{base}/predictions/request", json={"features": employee()}, timeout=10
        ).status_code
    except httpx.HTTPError:
        return -1


def waiting(base: str) -> float:
    """The API's own count of requests someone is waiting on (its /metrics gauge)."""
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("prediction_waiting_requests "):
            return float(line.split()[1])
    raise AssertionError("no prediction_waiting_requests in /metrics")


def test_stopping_postgres_gives_503_and_restarting_it_restores_service(
    tmp_path: Path, db_url: str, db_link: Link, stand_in_env: dict[str, str]
) -> None:
    with running_api(
        db_url, env={**stand_in_env, **db_link.process_env(db_url)}, log=tmp_path / "api.log"
    ) as base:
        assert submit(base) == 202

        db_link.cut()
        eventually(lambda: submit(base) == 503, 30, "POST answers 503 while PostgreSQL is down")
        response = httpx.get(f"{base}/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"
        response = httpx.post(f"{base}/predictions/request", json={"features": employee()}, timeout=10)
        assert response.status_code == 503
        assert "database unavailable" in response.json()["detail"]
        assert "Traceback" not in response.text

        db_link.restore()
        took = eventually(lambda: submit(base) == 202, 30, "POST answers 202 again after the restart")
        eventually(
            lambda: httpx.get(f"{base}/health", timeout=10).json()["listening"],
            30,
            "the LISTEN connection is back",
        )
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        print(f"recovered {took:.1f}s after the restart")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (2,)


def complete_newest(conn: psycopg.Connection, probability: float) -> str:
    """Write a result for the newest request, as the listener would; its request id."""
    [request_id] = conn.execute(
        "SELECT request_id::text FROM prediction_requests ORDER BY id DESC LIMIT 1"
    ).fetchone()
    conn.execute(COMPLETE, {"request_id": request_id, "prediction": 1, "probability": probability})
    return request_id


def count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM prediction_requests").fetchone()[0]


def test_waits_across_an_outage_answer_results_written_while_listen_reconnects(
    tmp_path: Path, db_url: str, conn: psycopg.Connection, db_link: Link, stand_in_env: dict[str, str]
) -> None:
    env = {**stand_in_env, **db_link.process_env(db_url)}
    with running_api(db_url, env=env, log=tmp_path / "api.log") as base, ThreadPoolExecutor(2) as pool:
        eventually(lambda: httpx.get(f"{base}/health", timeout=10).json()["listening"], 30, "listening")
        submitted = httpx.post(f"{base}/predictions/request", json={"features": employee()}, timeout=10)
        request_id = submitted.json()["request_id"]
        # A caller waits through the outage; its result is written the moment PostgreSQL is back.
        started = time.monotonic()
        url = f"{base}/predictions/{request_id}?wait={LONG_WAIT}"
        waiting_call = pool.submit(httpx.get, url, timeout=LONG_WAIT + 15)
        eventually(lambda: waiting(base) == 1, 20, "the caller is waiting")
        db_link.cut()
        time.sleep(7)  # long enough for an unwatched reconnect backoff to reach its cap (5 s)
        db_link.restore()
        complete_newest(conn, 0.6)
        response = woken(waiting_call, started)  # woken when the LISTEN connection came back
        assert response.status_code == 200 and response.json()["result"]["probability"] == 0.6

        # A caller that submits right after the outage, its result landing at once, gets it.
        eventually(lambda: submit(base) == 202, 30, "POST answers 202 again after the restart")
        stored = count(conn)
        body = {"features": employee()}
        started = time.monotonic()
        call = pool.submit(httpx.post, f"{base}/predictions/request?wait={LONG_WAIT}", json=body, timeout=45)
        eventually(lambda: count(conn) > stored, 20, "the waiting caller's row is stored")
        complete_newest(conn, 0.7)
        response = woken(call, started)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["probability"] == 0.7
        assert httpx.get(f"{base}/health", timeout=10).json()["status"] == "ok"
