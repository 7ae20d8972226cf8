"""Idempotency-Key: a retried submission returns the original request, never a second row."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from tests.api.conftest import api_settings, employee, in_process, stand_in_app

pytestmark = pytest.mark.anyio


def count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM prediction_requests").fetchone()[0]


async def test_a_retry_returns_the_original_request(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    headers = {"Idempotency-Key": "order-17"}
    first = await client.post("/predictions/request", json={"features": employee()}, headers=headers)
    again = await client.post("/predictions/request", json={"features": employee()}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["request_id"] == first.json()["request_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert count(conn) == 1


async def test_reusing_a_key_for_another_request_is_409(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-18"}
    await client.post("/predictions/request", json={"features": employee()}, headers=headers)
    other = await client.post("/predictions/request", json={"features": employee(age=30)}, headers=headers)
    assert other.status_code == 409 and "order-18" in other.json()["detail"]


async def test_concurrent_retries_with_one_key_create_exactly_one_row(
    db_url: str, conn: psycopg.Connection
) -> None:
    # Two apps (two pools, like two API processes), twenty callers racing with one key.
    async with (
        in_process(stand_in_app(api_settings(db_url))) as a,
        in_process(stand_in_app(api_settings(db_url))) as b,
    ):
        calls = [
            client.post(
                "/predictions/request", json={"features": employee()}, headers={"Idempotency-Key": "race"}
            )
            for client in (a, b) * 10
        ]
        responses = await asyncio.gather(*calls)
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["request_id"] for r in responses}) == 1
    assert count(conn) == 1


async def test_a_retried_batch_returns_the_original_ids(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    body = {"items": [employee(age=20 + i) for i in range(5)]}
    headers = {"Idempotency-Key": "nightly-2024-06-11"}
    first, again = await asyncio.gather(
        client.post("/predictions/batch", json=body, headers=headers),
        client.post("/predictions/batch", json=body, headers=headers),
    )
    assert first.status_code == again.status_code == 202
    assert first.json()["request_ids"] == again.json()["request_ids"]
    assert count(conn) == 5
    assert sorted(r.headers.get("idempotent-replayed", "") for r in (first, again)) == ["", "true"]


async def test_submit_and_wait_retry_waits_on_the_original(client: httpx.AsyncClient, db_url: str) -> None:
    from tests.api.conftest import play_listener

    headers = {"Idempotency-Key": "waited"}
    first = await client.post("/predictions/request", json={"features": employee()}, headers=headers)
    await play_listener(db_url, first.json()["request_id"])
    again = await client.post("/predictions/request?wait=5", json={"features": employee()}, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "completed"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
