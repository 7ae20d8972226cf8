"""GET /predictions/history: newest first, keyset cursor, filters, page size cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from service.cursor import encode_cursor
from tests.api.conftest import api_settings, employee, in_process, play_listener, stand_in_app

pytestmark = pytest.mark.anyio


async def submit(client: httpx.AsyncClient, n: int, model: str) -> list[str]:
    response = await client.post("/predictions/batch", json={"model_name": model, "items": [employee()] * n})
    return response.json()["request_ids"]


async def test_pages_follow_the_cursor_newest_first_without_gaps(client: httpx.AsyncClient) -> None:
    ids = await submit(client, 25, "logistic")
    seen, cursor = [], None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/predictions/history", params=params)).json()
        seen += [item["request_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


async def test_filters_by_status_model_and_time(
    client: httpx.AsyncClient, db_url: str, conn: psycopg.Connection
) -> None:
    logistic = await submit(client, 3, "logistic")
    dummy = await submit(client, 2, "dummy")
    await play_listener(db_url, dummy[0])

    async def ids(**params: str) -> list[str]:
        return [
            i["request_id"] for i in (await client.get("/predictions/history", params=params)).json()["items"]
        ]

    assert await ids(model="logistic") == logistic[::-1]
    assert await ids(status="completed") == [dummy[0]]
    assert await ids(status="pending", model="dummy") == [dummy[1]]
    completed = (await client.get("/predictions/history", params={"status": "completed"})).json()["items"][0]
    assert completed["result"]["model_version"] == "v-test"

    conn.execute(
        "UPDATE prediction_requests SET created_at = now() - interval '2 days' WHERE request_id = ANY(%s)",
        [logistic],
    )
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert set(await ids(since=since)) == set(dummy)
    assert set(await ids(until=since)) == set(logistic)


async def test_page_size_is_capped_and_bad_parameters_name_themselves(db_url: str) -> None:
    async with in_process(stand_in_app(api_settings(db_url, api_history_max_page=4))) as client:
        await submit(client, 6, "logistic")
        page = (await client.get("/predictions/history", params={"limit": 1000})).json()
        assert len(page["items"]) == 4 and page["next_cursor"]
        for params, name in [
            ({"cursor": "garbage"}, "cursor"),
            ({"cursor": encode_cursor(2**64)}, "cursor"),
            ({"model": "a\x00b"}, "model"),
            ({"status": "done"}, "status"),
            ({"limit": 0}, "limit"),
            ({"since": "yesterday"}, "since"),
        ]:
            response = await client.get("/predictions/history", params=params)
            assert response.status_code == 422
            assert response.json()["detail"][0]["loc"] == ["query", name]
