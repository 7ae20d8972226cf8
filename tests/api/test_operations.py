"""/health, /metrics, /models/, /metadata/: what operators and clients read."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import api_settings, employee, eventually, in_process, stand_in_app
from tests.pg import Databases, database_url

pytestmark = pytest.mark.anyio

OLD_RESULTS = """
WITH r AS (
    INSERT INTO prediction_requests (model_name, features, status, completed_at, created_at)
    SELECT 'logistic', '{}', 'completed', now() - interval '9 seconds', now() - interval '10 seconds'
    FROM generate_series(1, %(n)s)
    RETURNING id
)
INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256, created_at)
SELECT id, 0, 0.1, 'v1', repeat('0', 64), now() - interval '9.5 seconds' FROM r
"""
HEARTBEAT = "INSERT INTO listener_heartbeats (listener_id, hostname, pid, mode) VALUES (%s, 'h', 1, 'notify')"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_health_is_ok_on_a_current_schema(client: httpx.AsyncClient) -> None:

    async def listening() -> httpx.Response | None:
        response = await client.get("/health")
        if response.json()["listening"]:
            return response
        # The LISTEN connection may still be connecting: degraded until then.
        assert response.status_code == 200 and response.json()["status"] == "degraded"
        return None

    response = await eventually(listening, "/health says listening")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "reachable",
        "migrations": "current",
        "pending_migrations": [],
        "listening": True,
        "listening_down_seconds": None,
        "unavailable_models": {},
        "detail": None,
    }


async def test_health_is_503_when_schema_files_are_not_applied(databases: Databases) -> None:
    name = databases.create()  # empty: never migrated
    try:
        url = database_url(databases.server_url, name)
        async with in_process(stand_in_app(api_settings(url))) as client:
            response = await client.get("/health")
        assert response.status_code == 503
        assert response.json()["migrations"] == "pending"
        assert "001_prediction_requests.sql" in response.json()["pending_migrations"]
    finally:
        databases.drop(name)


async def test_liveness_answers_without_the_database_where_readiness_refuses(databases: Databases) -> None:
    name = databases.create()  # empty: never migrated, so /health is 503
    try:
        url = database_url(databases.server_url, name)
        async with in_process(stand_in_app(api_settings(url))) as client:
            ready, live = await client.get("/health"), await client.get("/health/live")
        assert ready.status_code == 503
        assert live.status_code == 200 and live.json() == {"status": "alive"}
    finally:
        databases.drop(name)


async def test_metrics_count_requests_per_route_template_and_read_the_rows(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    for _ in range(3):
        await client.post("/predictions/request", json={"model_name": "logistic", "features": employee()})
    await client.get("/predictions/00000000-0000-4000-8000-000000000000")
    conn.execute(OLD_RESULTS, {"n": 4})
    conn.execute(HEARTBEAT, ["alive"])
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert (
        got[
            (
                "http_requests_total",
                (("method", "POST"), ("route", "/predictions/request"), ("status", "202")),
            )
        ]
        == 3
    )
    assert (
        got[
            (
                "http_requests_total",
                (("method", "GET"), ("route", "/predictions/{request_id}"), ("status", "404")),
            )
        ]
        == 1
    )
    assert (
        got[("http_request_duration_seconds_count", (("method", "POST"), ("route", "/predictions/request")))]
        == 3
    )
    assert got[("prediction_submissions_total", (("model", "logistic"),))] == 3
    assert got[("prediction_queue_depth", (("status", "pending"),))] == 3
    assert got[("prediction_queue_depth", (("status", "completed"),))] == 4
    assert got[("prediction_listeners_alive", ())] == 1
    assert got[("database_up", ())] == 1
    # Four results, each written 0.5 s after its submission.
    assert got[("prediction_result_latency_seconds_count", ())] == 4
    assert got[("prediction_result_latency_seconds_bucket", (("le", "1.0"),))] == 4
    assert got[("prediction_result_latency_seconds_bucket", (("le", "0.25"),))] == 0
    assert got[("prediction_result_latency_seconds_sum", ())] == pytest.approx(2.0)
    # A second scrape does not count the same results twice.
    again = samples((await client.get("/metrics")).text)
    assert again[("prediction_result_latency_seconds_count", ())] == 4


async def test_models_and_metadata_describe_what_a_client_needs(client: httpx.AsyncClient) -> None:
    models = (await client.get("/models/")).json()
    assert {m["name"] for m in models} == {"dummy", "logistic", "random_forest", "random_forest_e04"}
    assert [m["name"] for m in models if m["default"]] == ["random_forest_e04"]
    assert all({"name", "version", "default", "metrics", "threshold", "sha256"} <= m.keys() for m in models)
    meta = (await client.get("/metadata/")).json()
    by_name = {f["name"]: f for f in meta["feature_schema"]}
    assert len(by_name) == 30
    assert by_name["age"]["type"] == "integer" and by_name["age"]["minimum"] == 18
    assert "Travel_Rarely" in by_name["business_travel"]["categories"]
    assert meta["target"]["name"] == "attrition" and 0 < meta["threshold"] < 1
    assert meta["default_model"] == "random_forest_e04" and meta["dataset"]["rows"] == 1470
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_an_unexpected_error_is_a_plain_500_without_a_trace(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.repository import requests

    async def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(requests, "get_prediction", broken)
    response = await client.get("/predictions/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
