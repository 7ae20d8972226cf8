"""Submitting predictions: 202 + Location, default model, batches in order, errors naming the field."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest

from tests.api.conftest import api_settings, employee, in_process, stand_in_app

pytestmark = pytest.mark.anyio


async def test_submission_is_202_with_location_and_a_pending_row(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    response = await client.post(
        "/predictions/request", json={"model_name": "logistic", "features": employee()}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["model_name"] == "logistic"
    assert response.headers["location"] == f"/predictions/{body['request_id']}"
    row = conn.execute(
        "SELECT model_name, status, features->>'job_role' FROM prediction_requests WHERE request_id = %s",
        [body["request_id"]],
    ).fetchone()
    assert row == ("logistic", "pending", "Sales_Executive")

    got = (await client.get(response.headers["location"])).json()
    assert got["status"] == "pending" and got["result"] is None and got["features"] == employee()


async def test_a_request_without_model_name_goes_to_the_default_model(client: httpx.AsyncClient) -> None:
    response = await client.post("/predictions/request", json={"features": employee()})
    assert response.status_code == 202
    assert response.json()["model_name"] == "random_forest_e04"


async def test_an_unknown_model_is_404_listing_the_known_ones(client: httpx.AsyncClient) -> None:
    response = await client.post("/predictions/request", json={"model_name": "gpt", "features": employee()})
    assert response.status_code == 404
    assert "'gpt'" in response.json()["detail"] and "logistic" in response.json()["detail"]
    assert (await client.get("/models/gpt")).status_code == 404


@pytest.mark.parametrize(
    ("features", "field", "words"),
    [
        (employee(age=12), "age", "out of range"),
        (employee(age="forty"), "age", "expected an integer"),
        (employee(age=40.5), "age", "expected an integer"),
        (employee(gender="X"), "gender", "unknown category"),
        (employee(shoe_size=44), "shoe_size", "unknown feature"),
        ({k: v for k, v in employee().items() if k != "over_time"}, "over_time", "missing"),
    ],
)
async def test_invalid_features_get_422_naming_the_field(
    client: httpx.AsyncClient, features: dict, field: str, words: str
) -> None:
    response = await client.post("/predictions/request", json={"features": features})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "features", field]
    assert field in error["msg"] and words in error["msg"]


async def test_malformed_bodies_get_422_naming_the_field(client: httpx.AsyncClient) -> None:
    cases = [
        ({}, ["body", "features"]),
        ({"features": [1, 2]}, ["body", "features"]),
        ({"features": employee(), "model_name": 7}, ["body", "model_name"]),
        ({"features": employee(), "colour": "red"}, ["body", "colour"]),
    ]
    for body, loc in cases:
        response = await client.post("/predictions/request", json=body)
        assert response.status_code == 422, body
        assert [e["loc"] for e in response.json()["detail"]] == [loc]
    response = await client.post(
        "/predictions/request", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert (
        await client.post("/predictions/request?wait=31", json={"features": employee()})
    ).status_code == 422
    assert (
        await client.post("/predictions/request?wait=0", json={"features": employee()})
    ).status_code == 422


async def test_a_batch_returns_ids_in_item_order(client: httpx.AsyncClient, conn: psycopg.Connection) -> None:
    items = [employee(age=20 + i) for i in range(30)]
    response = await client.post("/predictions/batch", json={"model_name": "dummy", "items": items})
    assert response.status_code == 202
    ids = response.json()["request_ids"]
    ages = dict(
        conn.execute("SELECT request_id::text, (features->>'age')::int FROM prediction_requests").fetchall()
    )
    assert [ages[i] for i in ids] == list(range(20, 50))


async def test_one_bad_item_rejects_the_batch_naming_its_index_and_field(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    items = [employee() for _ in range(100)]
    items[57] = employee(monthly_income=-5)
    response = await client.post("/predictions/batch", json={"items": items})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "items", 57, "monthly_income"]
    assert "items.57.monthly_income" in error["msg"]
    assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (0,)


async def test_batch_size_limits(client: httpx.AsyncClient) -> None:
    assert (await client.post("/predictions/batch", json={"items": []})).status_code == 422
    response = await client.post("/predictions/batch", json={"items": [{}] * 10_001})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "items"]


async def test_an_oversized_body_is_413(db_url: str) -> None:
    app = stand_in_app(api_settings(db_url, api_max_body_bytes=4096))
    big = json.dumps({"items": [employee()] * 20}).encode()

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the limit is met while reading
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    async with in_process(app) as client:
        for content in (big, chunked()):
            response = await client.post(
                "/predictions/batch", content=content, headers={"content-type": "application/json"}
            )
            assert response.status_code == 413
            assert response.json() == {"detail": "request body too large: at most 4096 bytes here"}
        small = await client.post("/predictions/request", json={"features": employee()})
        assert small.status_code == 202
        padded = await client.post("/predictions/request", json={"features": employee(pad="x" * 70_000)})
        assert padded.status_code == 413


async def test_unknown_or_malformed_request_ids(client: httpx.AsyncClient) -> None:
    missing = await client.get("/predictions/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    malformed = await client.get("/predictions/not-a-uuid")
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["loc"] == ["path", "request_id"]
