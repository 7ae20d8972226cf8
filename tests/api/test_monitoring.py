"""GET /monitoring/summary: counts, throughput buckets, latency percentiles, probability bins, listeners
and feature drift, computed from rows with known timestamps on a real database."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any

import httpx
import psycopg
import pytest

from model_store.data import load_attrition
from model_store.features import FEATURES
from model_store.registration import register_version
from model_store.training import trained_on
from service.monitoring_summary import MAX_BUCKETS, bucket_seconds
from sql.named_queries import QUERIES
from tests.api.conftest import employee
from tests.model_store.helpers import entry_for

pytestmark = pytest.mark.anyio

# Requests (and their results) placed at a given age: `ago` and `latency` are intervals.
REQUEST = """
INSERT INTO prediction_requests (model_name, status, features, created_at, claimed_by, lease_until, error)
VALUES (%(model)s, %(status)s, %(features)s, now() - %(ago)s::interval,
        CASE WHEN %(status)s = 'running' THEN 'h:1:0' END,
        CASE WHEN %(status)s = 'running' THEN now() + interval '1 minute' END,
        CASE WHEN %(status)s = 'failed' THEN 'boom' END)
RETURNING id, created_at
"""
RESULT = """
INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256, created_at)
VALUES (%(id)s, (%(probability)s >= 0.5)::int, %(probability)s, 'v-test', repeat('0', 64),
        %(created_at)s + %(latency)s::interval)
"""
MANY = """
INSERT INTO prediction_requests (model_name, features, created_at)
SELECT 'logistic', f, now() - %(ago)s::interval FROM jsonb_array_elements(%(items)s::jsonb) AS f
"""
HEARTBEAT = """
INSERT INTO listener_heartbeats (listener_id, hostname, pid, mode, started_at, last_seen_at, stopped_at,
                                 processed, failed)
VALUES (%(id)s, 'h', %(pid)s, 'notify', now() - interval '1 day', now() - %(seen)s::interval,
        CASE WHEN %(stopped)s THEN now() - %(seen)s::interval END, 10, 1)
"""
SHIFTED = ("monthly_income", "over_time", "age")


@lru_cache(maxsize=1)
def packaged_facts() -> dict[str, Any]:
    return trained_on(load_attrition())


def deploy_default(conn: psycopg.Connection, version: str, facts: dict[str, Any] | None) -> None:
    """Register a logistic version (with what it was fitted on, when given) and make it the default."""
    register_version(conn, {**entry_for("logistic", version, "ab" * 32, threshold=0.5), **(facts or {})})
    conn.execute(QUERIES["clear_other_defaults"], {"model_name": "logistic"})
    conn.execute(QUERIES["promote_model"], {"model_name": "logistic", "version": version})


@pytest.fixture
def default_fitted_on_the_packaged_data(conn: psycopg.Connection) -> None:
    """The default version, registered with the reference of the rows it was fitted on (the packaged
    data's), as `python -m model_store` registers the trained store."""
    deploy_default(conn, "fitted-1", packaged_facts())


def add_request(
    conn: psycopg.Connection,
    ago: str,
    status: str = "pending",
    model: str = "logistic",
    latency_ms: float | None = None,
    probability: float = 0.5,
) -> None:
    params = {"model": model, "status": status, "features": json.dumps(employee()), "ago": ago}
    request_id, created_at = conn.execute(REQUEST, params).fetchone()
    if status == "completed":
        latency = f"{latency_ms} milliseconds"
        conn.execute(
            RESULT,
            {"id": request_id, "probability": probability, "created_at": created_at, "latency": latency},
        )


def add_many(conn: psycopg.Connection, rows: list[dict[str, Any]], ago: str = "1 minute") -> None:
    conn.execute(MANY, {"items": json.dumps(rows), "ago": ago})


def training_rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """`n` employees drawn from the training data, as JSON-ready dicts."""
    frame = load_attrition().X.sample(n, random_state=seed)
    return json.loads(frame.to_json(orient="records"))


def shifted(row: dict[str, Any]) -> dict[str, Any]:
    """An employee from another population: richer, older, always on overtime."""
    return {
        **row,
        "monthly_income": min(row["monthly_income"] * 3, 20000),
        "over_time": "Yes",
        "age": min(row["age"] + 15, 70),
    }


async def summary(client: httpx.AsyncClient, minutes: int | None = None) -> dict[str, Any]:
    params = {"window_minutes": minutes} if minutes is not None else None
    response = await client.get("/monitoring/summary", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def parse(ts: str) -> datetime:
    assert ts.endswith("Z"), ts
    return datetime.fromisoformat(ts)


@pytest.mark.parametrize("minutes", [1, 15, 60, 360, 1440, 10080])
def test_every_window_is_cut_into_at_most_120_buckets(minutes: int) -> None:
    seconds = bucket_seconds(minutes)
    assert math.ceil(minutes * 60 / seconds) + 1 <= MAX_BUCKETS
    assert bucket_seconds(60) == 60 and bucket_seconds(10080) == 7200


async def test_counts_and_throughput_cover_the_window_only(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    for ago in ("50 minutes", "20 minutes", "20 minutes", "2 minutes"):
        add_request(conn, ago, "completed", latency_ms=10)
    add_request(conn, "5 minutes", "pending")
    add_request(conn, "5 minutes", "running")
    add_request(conn, "6 minutes", "failed")
    add_request(conn, "3 hours", "completed", latency_ms=10)  # outside the last hour

    body = await summary(client)
    window = body["window"]
    since, until = parse(window["since"]), parse(window["until"])
    assert until - since == timedelta(minutes=60) and window["bucket_seconds"] == 60
    assert body["requests"] == 7
    assert body["status_counts"] == {"pending": 1, "running": 1, "completed": 4, "failed": 1}

    buckets = body["throughput"]
    starts = [parse(b["bucket"]) for b in buckets]
    assert len(buckets) <= MAX_BUCKETS
    assert starts[0] <= since < starts[0] + timedelta(seconds=60) and starts[-1] < until
    assert all(b - a == timedelta(seconds=60) for a, b in pairwise(starts)), "no gaps"
    assert all(s.timestamp() % 60 == 0 for s in starts), "aligned on minutes"
    totals = {s: sum(b[s] for b in buckets) for s in ("pending", "running", "completed", "failed")}
    assert totals == body["status_counts"]
    assert sum(1 for b in buckets if any(b[s] for s in totals)) <= 5, "empty buckets are zeros"

    assert (await summary(client, 240))["status_counts"]["completed"] == 5, "a wider window sees more"


async def test_latency_percentiles_are_interpolated_from_submit_to_result(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    for ms in range(10, 101, 10):  # 10, 20, ..., 100 ms
        add_request(conn, "10 minutes", "completed", latency_ms=ms)
    add_request(conn, "10 minutes", "pending")  # no result: no latency

    latency = (await summary(client))["latency_ms"]
    assert latency["count"] == 10
    assert latency["p50"] == pytest.approx(55.0)
    assert latency["p90"] == pytest.approx(91.0)
    assert latency["p95"] == pytest.approx(95.5)
    assert latency["p99"] == pytest.approx(99.1)
    assert latency["max"] == pytest.approx(100.0)


async def test_probabilities_fall_in_twenty_equal_bins_per_model(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    for p in (0.0, 0.02, 0.05, 0.5, 0.51, 0.999, 1.0):
        add_request(conn, "10 minutes", "completed", "logistic", latency_ms=5, probability=p)
    add_request(conn, "10 minutes", "completed", "dummy", latency_ms=5, probability=0.16)

    histogram = (await summary(client))["probability_histogram"]
    by_model: dict[str, list[dict]] = {}
    for row in histogram:
        by_model.setdefault(row["model_name"], []).append(row)
    assert sorted(by_model) == ["dummy", "logistic"]
    for rows in by_model.values():
        assert [(r["bin_start"], r["bin_end"]) for r in rows] == [(i / 20, (i + 1) / 20) for i in range(20)]
    logistic = [r["count"] for r in by_model["logistic"]]
    assert logistic[0] == 2 and logistic[1] == 1, "0.0 and 0.02 in [0, 0.05); 0.05 in [0.05, 0.1)"
    assert logistic[10] == 2, "0.5 and 0.51 in [0.5, 0.55)"
    assert logistic[19] == 2, "0.999 and exactly 1.0 in the last bin"
    assert sum(logistic) == 7
    assert [r["count"] for r in by_model["dummy"]][3] == 1


async def test_listeners_are_alive_only_with_a_recent_heartbeat_and_no_stop(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    beats = [
        ("h:1:0", "2 seconds", False),  # alive
        ("h:2:0", "10 minutes", False),  # crashed: heartbeat too old
        ("h:3:0", "1 minute", True),  # stopped cleanly
        ("h:4:0", "3 days", True),  # long gone: not in the window
    ]
    for pid, (listener_id, seen, stopped) in enumerate(beats, start=1):
        conn.execute(HEARTBEAT, {"id": listener_id, "pid": pid, "seen": seen, "stopped": stopped})

    listeners = (await summary(client))["listeners"]
    assert [(ls["listener_id"], ls["alive"]) for ls in listeners] == [
        ("h:1:0", True),
        ("h:3:0", False),
        ("h:2:0", False),
    ]
    first = listeners[0]
    assert (first["hostname"], first["pid"], first["mode"], first["processed"], first["failed"]) == (
        "h",
        1,
        "notify",
        10,
        1,
    )
    assert first["stopped_at"] is None and listeners[1]["stopped_at"] is not None


@pytest.mark.usefixtures("default_fitted_on_the_packaged_data")
async def test_requests_like_the_training_data_show_no_drift(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    add_many(conn, training_rows(1000))

    drift = (await summary(client))["drift"]
    assert drift["reference"] == "training data" and drift["sample_size"] == 1000
    psis = [f["psi"] for f in drift["features"]]
    assert sorted(f["name"] for f in drift["features"]) == sorted(f.name for f in FEATURES)
    assert psis == sorted(psis, reverse=True), "worst first"
    assert max(psis) < 0.05, drift["features"][:3]


@pytest.mark.usefixtures("default_fitted_on_the_packaged_data")
async def test_a_shifted_population_drifts_and_comes_first(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    add_many(conn, training_rows(1200, seed=3), ago="30 minutes")
    add_many(conn, [shifted(r) for r in training_rows(1000)], ago="1 minute")  # the newest 1,000

    drift = (await summary(client))["drift"]
    assert drift["sample_size"] == 1000
    features = drift["features"]
    assert {f["name"] for f in features[:3]} == set(SHIFTED)
    assert all(f["psi"] > 0.2 for f in features[:3]), features[:3]
    assert all(f["psi"] < 0.05 for f in features[3:]), features[3:6]


@pytest.mark.usefixtures("default_fitted_on_the_packaged_data")
async def test_too_few_requests_give_no_drift_figure_and_an_empty_window_gives_zeros(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    empty = await summary(client)
    assert empty["requests"] == 0 and empty["status_counts"] == dict.fromkeys(empty["status_counts"], 0)
    assert all(not any(b[s] for s in empty["status_counts"]) for b in empty["throughput"])
    assert empty["latency_ms"] == {
        "count": 0,
        "p50": None,
        "p90": None,
        "p95": None,
        "p99": None,
        "max": None,
    }
    assert empty["probability_histogram"] == [] and empty["listeners"] == []

    add_many(conn, training_rows(20))
    drift = (await summary(client))["drift"]
    assert drift["sample_size"] == 20
    assert len(drift["features"]) == len(FEATURES) and {f["psi"] for f in drift["features"]} == {None}


@pytest.mark.parametrize("minutes", ["0", "10081", "an hour"])
async def test_a_window_out_of_range_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, minutes: str
) -> None:
    response = await client.get("/monitoring/summary", params={"window_minutes": minutes})
    assert response.status_code == 422
    assert "window_minutes" in json.dumps(response.json())


@pytest.mark.usefixtures("default_fitted_on_the_packaged_data")
async def test_the_reference_is_the_default_versions_and_says_which(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    add_many(conn, training_rows(100))
    drift = (await summary(client))["drift"]
    facts = packaged_facts()
    assert (drift["model_name"], drift["version"], drift["missing"]) == ("logistic", "fitted-1", None)
    assert drift["training_rows"] == 1470
    assert drift["training_data_sha256"] == facts["training_data_sha256"] == load_attrition().sha256


@pytest.mark.usefixtures("default_fitted_on_the_packaged_data")
async def test_a_default_registered_without_a_reference_reports_none_and_why(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    deploy_default(conn, "before-018", None)  # a version registered before references were stored
    add_many(conn, training_rows(1000))
    drift = (await summary(client))["drift"]
    assert drift["reference"] == "none" and drift["sample_size"] == 1000
    assert (drift["model_name"], drift["version"], drift["training_rows"]) == ("logistic", "before-018", None)
    assert "logistic before-018 was registered without a drift reference" in drift["missing"]
    assert [f["name"] for f in drift["features"]] == [f.name for f in FEATURES]
    assert {f["psi"] for f in drift["features"]} == {None}

    conn.execute("DELETE FROM model_deployments")
    drift = (await summary(client))["drift"]
    assert drift["reference"] == "none" and drift["model_name"] is None
    assert drift["missing"] == "no model is the default: nothing to compare recent requests with"
