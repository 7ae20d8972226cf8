"""GET /predictions/history counts what matches its filters over all pages, within a bound."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from sql.named_queries import QUERIES
from tests.api.conftest import employee

pytestmark = pytest.mark.anyio


async def test_every_page_says_how_many_requests_match_its_filters(client: httpx.AsyncClient) -> None:
    await client.post("/predictions/batch", json={"model_name": "logistic", "items": [employee()] * 7})
    await client.post("/predictions/batch", json={"model_name": "dummy", "items": [employee()] * 2})
    first = (await client.get("/predictions/history", params={"model": "logistic", "limit": 5})).json()
    older = (await client.get("/predictions/history", params={"cursor": first["next_cursor"]})).json()
    assert (len(first["items"]), first["total"], first["total_capped"]) == (5, 7, False)
    assert older["total"] == 9, "the count is of the filters, not of what is left after the cursor"
    failed = (await client.get("/predictions/history", params={"status": "failed"})).json()
    assert (failed["items"], failed["total"]) == ([], 0)


def test_the_count_stops_at_its_cap(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO prediction_requests (model_name, features)"
        " SELECT 'logistic', '{}' FROM generate_series(1, 5)"
    )
    params = {"status": None, "model_name": None, "created_from": None, "created_to": None, "cap": 3}
    params["api_key_id"] = None  # every submitter's requests
    assert conn.execute(QUERIES["prediction_history_count"], params).fetchone() == (3,)
