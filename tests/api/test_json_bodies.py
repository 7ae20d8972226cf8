"""Submission bodies are parsed fast (orjson), yet accepted or refused exactly as the standard library
would: what orjson refuses but JSON-as-Python takes (NaN) still reaches the feature check."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.conftest import employee

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


async def test_nan_in_a_feature_is_a_422_naming_the_feature(client: httpx.AsyncClient) -> None:
    body = json.dumps({"features": employee(monthly_income=float("nan"))})  # writes the NaN literal
    r = await client.post("/predictions/request", content=body, headers=JSON)
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "features", "monthly_income"] and "finite" in error["msg"]


async def test_broken_json_is_a_422_json_error(client: httpx.AsyncClient) -> None:
    r = await client.post("/predictions/batch", content=b'{"items": [{"age": 41},', headers=JSON)
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


async def test_a_valid_batch_body_is_parsed_and_stored(client: httpx.AsyncClient) -> None:
    items = [employee(age=30 + i) for i in range(3)]
    r = await client.post("/predictions/batch", content=json.dumps({"items": items}), headers=JSON)
    assert r.status_code == 202 and len(r.json()["request_ids"]) == 3
