"""A 503 says whether a retry is safe: nothing stored, or possibly stored (retry with Idempotency-Key)."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from tests.api.conftest import api_settings, employee, eventually, in_process, stand_in_app

pytestmark = pytest.mark.anyio

BLOCKED_INSERTS = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'
  AND query LIKE 'INSERT INTO prediction_requests%'
"""


def count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM prediction_requests").fetchone()[0]


async def test_an_exhausted_pool_is_busy_and_its_503_says_nothing_was_stored(
    db_url: str, conn: psycopg.Connection
) -> None:
    settings = api_settings(db_url, api_pool_min=1, api_pool_max=1, api_pool_timeout_seconds=0.3)
    app = stand_in_app(settings)
    async with in_process(app) as client:
        async with app.state.services.pool.connection():  # the pool's one connection, held
            health = await client.get("/health")
            submitted = await client.post("/predictions/request", json={"features": employee()})
            batch = await client.post("/predictions/batch", json={"items": [employee()]})
        assert health.status_code == 503 and health.headers["retry-after"]
        assert health.json()["status"] == "busy" and health.json()["database"] == "busy"
        for response in (submitted, batch):
            assert response.status_code == 503 and response.headers["retry-after"]
            assert "busy" in response.json()["detail"] and "nothing was stored" in response.json()["detail"]
        assert count(conn) == 0
        assert (await client.get("/health")).json()["database"] == "reachable"


async def _lost_while_inserting(
    client: httpx.AsyncClient, conn: psycopg.Connection, **kw: object
) -> httpx.Response:
    """Submit while the table is locked, then cut the API's connection in the middle of its INSERT."""
    with conn.transaction():
        conn.execute("LOCK TABLE prediction_requests IN SHARE MODE")
        call = asyncio.create_task(client.post("/predictions/request", json={"features": employee()}, **kw))
        with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as other:
            blocked = await eventually(
                lambda: other.execute(BLOCKED_INSERTS).fetchall(), "the API's INSERT waits on the lock"
            )
            [(pid,)] = blocked
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        return await call


async def test_a_connection_lost_during_the_insert_says_the_request_may_be_stored(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    keyed = await _lost_while_inserting(client, conn, headers={"Idempotency-Key": "order-99"})
    assert keyed.status_code == 503
    assert "may have been stored" in keyed.json()["detail"]
    assert "same Idempotency-Key" in keyed.json()["detail"]

    unkeyed = await _lost_while_inserting(client, conn)
    assert unkeyed.status_code == 503
    assert "may have been stored" in unkeyed.json()["detail"]
    assert "Idempotency-Key" in unkeyed.json()["detail"] and "history" in unkeyed.json()["detail"]

    retried = await client.post(
        "/predictions/request", json={"features": employee()}, headers={"Idempotency-Key": "order-99"}
    )
    assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers
    assert count(conn) == 1
