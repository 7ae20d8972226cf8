"""Keys with scopes: without a key, with a bad one, or with another client's submit key, no endpoint
returns a request's features or result; a read key sees all; each refusal says why."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.repository.api_keys import create_key
from tests.api.conftest import api_settings, employee, in_process, play_listener, stand_in_app

pytestmark = pytest.mark.anyio

# Values that appear nowhere but in the stored request: finding them in an answer is a leak.
SECRET_INCOME = 17_389
SECRET_SUBJECT = "emp-7f3a9c"
FEATURES = employee(monthly_income=SECRET_INCOME)


@dataclass
class World:
    api: httpx.AsyncClient
    app: FastAPI
    keys: dict[str, str]  # name -> plain key
    mine: str  # a completed request alice submitted, about SECRET_SUBJECT
    batch: list[str]  # two more of alice's, submitted in one batch

    def as_(self, name: str | None) -> dict[str, str]:
        return {"X-API-Key": self.keys[name]} if name else {}


@pytest.fixture
async def world(db_url: str, conn: psycopg.Connection) -> AsyncIterator[World]:
    """alice and bob submit, analyst reads, ops administers; alice has three requests, one answered."""
    keys = {
        "alice": create_key(conn, "alice", ["submit"]),
        "bob": create_key(conn, "bob", ["submit"]),
        "analyst": create_key(conn, "analyst", ["read"]),
        "ops": create_key(conn, "ops", ["admin"]),
    }
    app = stand_in_app(api_settings(db_url))
    async with in_process(app) as api:
        alice = {"X-API-Key": keys["alice"]}
        body = {"model_name": "logistic", "features": FEATURES, "subject_ref": SECRET_SUBJECT}
        single = await api.post("/predictions/request", json=body, headers=alice)
        assert single.status_code == 202, single.text
        mine = single.json()["request_id"]
        await play_listener(db_url, mine)
        batch = await api.post(
            "/predictions/batch",
            json={"model_name": "logistic", "items": [FEATURES, FEATURES]},
            headers={**alice, "Idempotency-Key": "alice-batch-1"},
        )
        assert batch.status_code == 202, batch.text
        yield World(api, app, keys, mine, batch.json()["request_ids"])


def reads(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every endpoint that returns a request's features, result or explanation: (method, path, body)."""
    return [
        ("GET", "/predictions/history", None),
        ("GET", "/predictions/history?model=logistic&limit=500", None),
        ("POST", "/predictions/lookup", {"request_ids": [w.mine, *w.batch]}),
        ("GET", f"/predictions/{w.mine}", None),
        ("GET", f"/predictions/{w.mine}?wait=1", None),
        ("GET", f"/predictions/{w.mine}/explanation", None),
        ("POST", f"/predictions/{w.mine}/explanation", None),
    ]


def writes(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/predictions/request", {"features": FEATURES}),
        ("POST", "/predictions/batch", {"items": [FEATURES]}),
        ("POST", "/outcomes", {"items": [{"request_id": w.mine, "label": 1}]}),
    ]


async def call(w: World, method: str, path: str, body: Any, key: str | None) -> httpx.Response:
    return await w.api.request(method, path, json=body, headers=w.as_(key))


def leaks(response: httpx.Response) -> bool:
    return str(SECRET_INCOME) in response.text or SECRET_SUBJECT in response.text


async def test_without_a_key_every_request_endpoint_answers_401_saying_which_scope(world: World) -> None:
    for method, path, body in reads(world) + writes(world):
        response = await call(world, method, path, body, None)
        assert response.status_code == 401, (method, path, response.text)
        detail = response.json()["detail"]
        assert "missing X-API-Key" in detail and "scope" in detail, detail
        assert response.headers["WWW-Authenticate"] == "X-API-Key"
        assert not leaks(response)
    assert "scope submit" in (await call(world, *writes(world)[0], None)).json()["detail"]
    assert "scope read or submit" in (await call(world, *reads(world)[0], None)).json()["detail"]


async def test_a_wrong_or_revoked_key_is_refused_with_401(world: World, conn: psycopg.Connection) -> None:
    world.keys["forged"] = "fut_" + "x" * 43
    conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'bob'")
    await world.app.state.services.keys.refresh()  # what NOTIFY api_keys_changed triggers
    for method, path, body in reads(world) + writes(world):
        for key in ("forged", "bob"):
            response = await call(world, method, path, body, key)
            assert response.status_code == 401, (key, method, path, response.text)
            assert "invalid X-API-Key" in response.json()["detail"]
            assert not leaks(response)


async def test_another_clients_submit_key_sees_none_of_its_requests(world: World) -> None:
    bob = world.as_("bob")
    history = (await world.api.get("/predictions/history?limit=500", headers=bob)).json()
    assert (history["items"], history["total"]) == ([], 0)
    looked = await world.api.post("/predictions/lookup", json={"request_ids": [world.mine]}, headers=bob)
    assert looked.json()["items"] == [None]
    for method, path, body in reads(world)[3:]:
        response = await call(world, method, path, body, "bob")
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"] == f"prediction request {world.mine} not found"
    for response in [
        await world.api.post("/predictions/lookup", json={"request_ids": [world.mine]}, headers=bob),
        await world.api.get("/predictions/history", headers=bob),
    ]:
        assert not leaks(response)


async def test_a_submit_key_cannot_label_or_replay_another_clients_requests(
    world: World, conn: psycopg.Connection
) -> None:
    bob = world.as_("bob")
    by_id = await world.api.post(
        "/outcomes", json={"items": [{"request_id": world.mine, "label": 1}]}, headers=bob
    )
    by_subject = await world.api.post(
        "/outcomes", json={"items": [{"subject_ref": SECRET_SUBJECT, "label": 1}]}, headers=bob
    )
    for answer in (by_id.json(), by_subject.json()):
        assert (answer["matched"], answer["recorded"], answer["unknown"]) == (0, 0, 1)
    assert conn.execute("SELECT count(*) FROM prediction_outcomes").fetchone() == (0,)
    # Alice's Idempotency-Key, retried by bob with the same body, must not hand him her request ids.
    replay = await world.api.post(
        "/predictions/batch",
        json={"model_name": "logistic", "items": [FEATURES, FEATURES]},
        headers={**bob, "Idempotency-Key": "alice-batch-1"},
    )
    assert replay.status_code == 409 and world.batch[0] not in replay.text
    single = {"model_name": "logistic", "features": FEATURES}
    first = await world.api.post(
        "/predictions/request", json=single, headers={**world.as_("alice"), "Idempotency-Key": "a-1"}
    )
    again = await world.api.post(
        "/predictions/request", json=single, headers={**bob, "Idempotency-Key": "a-1"}
    )
    assert again.status_code == 409 and first.json()["request_id"] not in again.text


async def test_a_submit_key_reads_back_and_labels_what_it_submitted(world: World) -> None:
    alice = world.as_("alice")
    history = (await world.api.get("/predictions/history", headers=alice)).json()
    assert sorted(i["request_id"] for i in history["items"]) == sorted([world.mine, *world.batch])
    assert history["total"] == 3
    got = (await world.api.get(f"/predictions/{world.mine}?wait=1", headers=alice)).json()
    assert got["features"]["monthly_income"] == SECRET_INCOME and got["result"]["prediction"] == 1
    looked = await world.api.post("/predictions/lookup", json={"request_ids": world.batch}, headers=alice)
    assert [i["request_id"] for i in looked.json()["items"]] == world.batch
    asked = await world.api.post(f"/predictions/{world.mine}/explanation", headers=alice)
    assert asked.status_code == 202
    labelled = await world.api.post(
        "/outcomes", json={"items": [{"subject_ref": SECRET_SUBJECT, "label": 1}]}, headers=alice
    )
    assert labelled.json()["recorded"] == 1


async def test_a_read_key_sees_every_request_but_submits_nothing(world: World) -> None:
    analyst = world.as_("analyst")
    bobs = await world.api.post("/predictions/request", json={"features": FEATURES}, headers=world.as_("bob"))
    history = (await world.api.get("/predictions/history", headers=analyst)).json()
    assert history["total"] == 4 and bobs.json()["request_id"] in {i["request_id"] for i in history["items"]}
    got = await world.api.get(f"/predictions/{world.mine}", headers=analyst)
    assert got.status_code == 200 and got.json()["subject_ref"] == SECRET_SUBJECT
    for method, path, body in writes(world):
        response = await call(world, method, path, body, "analyst")
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["detail"] == "key 'analyst' has scope read; this endpoint needs scope submit"


async def test_an_admin_key_alone_reads_no_request(world: World) -> None:
    for method, path, body in reads(world) + writes(world):
        response = await call(world, method, path, body, "ops")
        assert response.status_code == 403, (method, path, response.text)
        assert "key 'ops' has scope admin; this endpoint needs scope" in response.json()["detail"]
        assert not leaks(response)


async def test_health_docs_and_aggregates_stay_open_and_show_no_request(world: World) -> None:
    for path in ("/health", "/docs", "/openapi.json", "/models/", "/metadata/", "/metrics"):
        response = await world.api.get(path)
        assert response.status_code == 200, (path, response.text)
        assert not leaks(response), path
    summary = await world.api.get("/monitoring/summary")
    assert summary.status_code == 200 and summary.json()["requests"] == 3
    assert not leaks(summary)
    performance = await world.api.get("/monitoring/performance")
    assert performance.status_code == 200 and not leaks(performance)


async def test_each_request_remembers_the_key_that_submitted_it(
    world: World, conn: psycopg.Connection
) -> None:
    rows = conn.execute(
        "SELECT r.request_id::text, k.name FROM prediction_requests r JOIN api_keys k ON k.id = r.api_key_id"
    ).fetchall()
    assert sorted(rows) == sorted([(world.mine, "alice"), *((rid, "alice") for rid in world.batch)])


async def test_keys_are_required_before_any_exists_when_forced(db_url: str) -> None:
    async with in_process(stand_in_app(api_settings(db_url, api_keys_required=True))) as api:
        response = await api.get(f"/predictions/{uuid.uuid4()}")
        assert response.status_code == 401 and "missing X-API-Key" in response.json()["detail"]
        assert (await api.get("/health")).status_code == 200


async def test_while_no_key_exists_the_api_is_open_and_requests_carry_no_key(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    submitted = await client.post("/predictions/request", json={"features": FEATURES})
    assert submitted.status_code == 202
    got = await client.get(f"/predictions/{submitted.json()['request_id']}")
    assert got.status_code == 200
    assert conn.execute("SELECT api_key_id FROM prediction_requests").fetchall() == [(None,)]


# Aggregates and reference data, open to anyone: no route under these prefixes returns a request.
OPEN_PREFIXES = ("/health", "/metrics", "/metadata", "/models", "/monitoring")


def scopes_of(dependant: Dependant) -> set[str]:
    """Every scope a key-checking dependency of the route (at any depth) accepts."""
    found: set[str] = set(getattr(dependant.call, "scopes", ()))
    for sub in dependant.dependencies:
        found |= scopes_of(sub)
    return found


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's endpoints, also those inside included routers (FastAPI may wrap them)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


def test_every_route_outside_the_open_aggregates_checks_a_key(db_url: str) -> None:
    """A route added later without a key check fails here, before it can hand out employees' data."""
    app = stand_in_app(api_settings(db_url))
    routes = api_routes(app.routes)
    operations = sum(len(ops) for ops in app.openapi()["paths"].values())
    assert sum(len(r.methods) for r in routes) == operations, "every documented operation is looked at"
    unguarded = [
        f"{sorted(r.methods)} {r.path}"
        for r in routes
        if not r.path.startswith(OPEN_PREFIXES) and not scopes_of(r.dependant)
    ]
    assert unguarded == []
    predictions = [r for r in routes if r.path.startswith("/predictions")]
    assert len(predictions) >= 7 and all(scopes_of(r.dependant) & {"read", "submit"} for r in predictions)
