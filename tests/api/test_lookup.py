"""POST /predictions/lookup: many requests in one call, in the order asked, unknown ids as null."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.conftest import employee, play_listener

pytestmark = pytest.mark.anyio


async def submit(client: httpx.AsyncClient, n: int) -> list[str]:
    items = [employee(age=30 + i) for i in range(n)]
    response = await client.post("/predictions/batch", json={"model_name": "logistic", "items": items})
    return response.json()["request_ids"]


async def test_lookup_answers_in_the_order_asked_with_the_shape_of_a_single_read(
    client: httpx.AsyncClient, db_url: str
) -> None:
    ids = await submit(client, 5)
    await play_listener(db_url, ids[3], prediction=1, probability=0.75)
    asked = [ids[3], ids[0], ids[4], ids[1], ids[3]]

    response = await client.post("/predictions/lookup", json={"request_ids": asked})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["request_id"] for item in items] == asked, "order kept, a repeated id answered twice"
    singles = [(await client.get(f"/predictions/{rid}")).json() for rid in asked]
    assert items == singles, "each item is what GET /predictions/{request_id} shows"
    assert items[0]["status"] == "completed" and items[0]["result"]["probability"] == 0.75
    assert items[1]["status"] == "pending" and items[1]["result"] is None
    assert items[2]["features"]["age"] == 34


async def test_an_unknown_id_is_null_in_its_place(client: httpx.AsyncClient) -> None:
    ids = await submit(client, 2)
    unknown = str(uuid.uuid4())

    response = await client.post("/predictions/lookup", json={"request_ids": [ids[1], unknown, ids[0]]})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items[1] is None
    assert [items[0]["request_id"], items[2]["request_id"]] == [ids[1], ids[0]]


async def test_ten_thousand_ids_are_looked_up_in_one_call(client: httpx.AsyncClient) -> None:
    ids = await submit(client, 3)
    asked = [str(uuid.uuid4()) for _ in range(9_997)] + ids
    response = await client.post("/predictions/lookup", json={"request_ids": asked})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 10_000 and items[:9_997] == [None] * 9_997
    assert [i["request_id"] for i in items[9_997:]] == ids


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"request_ids": []}, "request_ids"),
        ({"request_ids": ["not-a-uuid"]}, "request_ids.0"),
        ({"request_ids": [str(uuid.uuid4())] * 10_001}, "request_ids"),
        ({"ids": [str(uuid.uuid4())]}, "ids"),
    ],
)
async def test_a_bad_lookup_is_a_422_naming_the_field(
    client: httpx.AsyncClient, body: dict, words: str
) -> None:
    response = await client.post("/predictions/lookup", json=body)
    assert response.status_code == 422
    assert any(e["msg"].startswith(words) for e in response.json()["detail"]), response.json()
