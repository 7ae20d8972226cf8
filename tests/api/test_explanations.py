"""POST/GET /predictions/{request_id}/explanation end to end: real models and listener, the API in process."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from model_store.data import load_attrition
from model_store.explain import embed_baseline
from model_store.manifest import sha256_hex, version_for
from model_store.pipelines import build_pipeline
from model_store.registration import promote
from model_store.training import artifact_bytes
from service.app import create_app
from service.repository.api_keys import create_key
from service.settings import ApiSettings
from tests.api.conftest import employee, eventually, in_process
from tests.listener.procs import log_text, wait_listening
from tests.model_store.helpers import entry_for, register
from tests.stack import ROOT, real_env, running_listener

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MODELS = ("dummy", "logistic", "random_forest", "random_forest_e04")


@pytest.fixture
def listener(models_db: str, trained_store: Path, conn: psycopg.Connection, tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "listener.log"
    with running_listener(models_db, env=real_env(trained_store), log=log) as proc:
        wait_listening(conn, proc, log=log)
        yield log


@pytest.fixture
async def api(models_db: str, trained_store: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(database_url=models_db, env="dev", model_store_dir=trained_store)
    async with in_process(create_app(settings)) as client:
        yield client


async def predict(api: httpx.AsyncClient, model: str, features: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(
        "/predictions/request?wait=20", json={"model_name": model, "features": features}
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_adds_up(explanation: dict[str, Any], probability: float) -> None:
    total = explanation["base_value"] + sum(c["contribution"] for c in explanation["contributions"])
    output = math.log(probability / (1 - probability)) if explanation["scale"] == "log_odds" else probability
    assert total == pytest.approx(output, abs=1e-6)
    assert explanation["output"] == pytest.approx(output, abs=1e-6)


async def test_an_explanation_asked_with_wait_arrives_in_the_same_call_for_every_model(
    api: httpx.AsyncClient, listener: Path
) -> None:
    features = employee(over_time="Yes", job_satisfaction="Low")
    for model in MODELS:
        answered = await predict(api, model, features)
        request_id = answered["request_id"]
        response = await api.post(f"/predictions/{request_id}/explanation?wait=30")
        assert response.status_code == 200, (response.text, log_text(listener))  # within the one call
        body = response.json()
        assert body["request_id"] == request_id and body["model_name"] == model
        assert body["model_version"] == answered["result"]["model_version"]
        assert body["method"] == {"dummy": "constant", "logistic": "linear_log_odds"}.get(model, "tree_shap")
        assert_adds_up(body, answered["result"]["probability"])
        contributions = body["contributions"]
        assert len(contributions) == len(features)
        assert {c["feature"] for c in contributions} == set(features)
        assert all(c["value"] == features[c["feature"]] for c in contributions)
        sizes = [abs(c["contribution"]) for c in contributions]
        assert sizes == sorted(sizes, reverse=True)
        # Read back, the same explanation; asking again changes nothing.
        again = await api.get(f"/predictions/{request_id}/explanation")
        assert again.status_code == 200 and again.json() == body
        assert (await api.post(f"/predictions/{request_id}/explanation")).json() == body


async def test_overtime_raises_the_logistic_risk(api: httpx.AsyncClient, listener: Path) -> None:
    answered = await predict(api, "logistic", employee(over_time="Yes"))
    body = (await api.post(f"/predictions/{answered['request_id']}/explanation?wait=30")).json()
    overtime = next(c for c in body["contributions"] if c["feature"] == "over_time")
    assert overtime["value"] == "Yes" and overtime["contribution"] > 0


def add_logistic_version(conninfo: str, store: Path, C: float) -> str:
    """Another logistic version (trained as training does, baseline included), registered, not deployed."""
    data = load_attrition()
    pipeline = build_pipeline("logistic").set_params(model__C=C).fit(data.X, data.y)
    embed_baseline(pipeline, data.X)
    blob = artifact_bytes(pipeline)
    entry = entry_for("logistic", version_for(sha256_hex(blob)), sha256_hex(blob), threshold=0.5)
    (store / entry["file"]).write_bytes(blob)
    register(conninfo, entry)
    return entry["version"]


async def test_the_explanation_uses_the_version_that_answered_also_after_a_promotion(
    api: httpx.AsyncClient, listener: Path, models_db: str, trained_store: Path
) -> None:
    answered = await predict(api, "logistic", employee())
    old_version = answered["result"]["model_version"]
    new_version = add_logistic_version(models_db, trained_store, C=0.05)
    try:
        promote(models_db, "logistic", new_version)

        async def answered_by_the_new_version() -> dict[str, Any] | None:
            answer = await predict(api, "logistic", employee())
            return answer if answer["result"]["model_version"] == new_version else None

        newer = await eventually(
            answered_by_the_new_version, "the listener hears model_promoted and switches"
        )
        assert newer["result"]["model_version"] == new_version != old_version

        old = await api.post(f"/predictions/{answered['request_id']}/explanation?wait=30")
        new = await api.post(f"/predictions/{newer['request_id']}/explanation?wait=30")
        assert old.status_code == new.status_code == 200, (old.text, new.text)
        assert old.json()["model_version"] == old_version
        assert new.json()["model_version"] == new_version
        assert_adds_up(old.json(), answered["result"]["probability"])
        assert_adds_up(new.json(), newer["result"]["probability"])
        assert old.json()["base_value"] != new.json()["base_value"]
    finally:
        (trained_store / f"logistic-{new_version}.joblib").unlink()


async def test_a_version_whose_artifact_is_gone_is_refused_with_a_clear_error(
    api: httpx.AsyncClient, listener: Path, models_db: str, trained_store: Path, conn: psycopg.Connection
) -> None:
    answered = await predict(api, "logistic", employee())
    # The answering version is later retired and its file deleted.
    other = add_logistic_version(models_db, trained_store, C=0.2)
    (trained_store / f"logistic-{other}.joblib").unlink()
    conn.execute(
        "UPDATE prediction_results SET model_version = %s, model_sha256 = v.sha256 FROM model_versions v"
        " WHERE v.model_name = 'logistic' AND v.version = %s"
        " AND prediction_results.request_id = (SELECT id FROM prediction_requests WHERE request_id = %s)",
        [other, other, answered["request_id"]],
    )
    response = await api.post(f"/predictions/{answered['request_id']}/explanation?wait=5")
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert f"version {other}" in detail and "can no longer be loaded" in detail
    assert str(trained_store) not in detail  # no server paths reach clients
    assert (await api.get(f"/predictions/{answered['request_id']}/explanation")).status_code == 409


async def test_get_before_asking_says_how_to_ask_and_unknown_requests_are_404(
    api: httpx.AsyncClient, models_db: str
) -> None:
    submitted = await api.post(
        "/predictions/request", json={"model_name": "logistic", "features": employee()}
    )
    request_id = submitted.json()["request_id"]
    response = await api.get(f"/predictions/{request_id}/explanation")
    assert (
        response.status_code == 404
        and f"POST /predictions/{request_id}/explanation" in response.json()["detail"]
    )
    unknown = "0190c3a0-0000-7000-8000-000000000000"
    for call in (api.get, api.post):
        gone = await call(f"/predictions/{unknown}/explanation")
        assert gone.status_code == 404 and unknown in gone.json()["detail"]
    assert (await api.get("/predictions/not-a-uuid/explanation")).status_code == 422


async def test_asking_before_the_answer_waits_for_it_then_explains(
    api: httpx.AsyncClient, models_db: str, trained_store: Path, conn: psycopg.Connection, tmp_path: Path
) -> None:
    submitted = await api.post(
        "/predictions/request", json={"model_name": "logistic", "features": employee()}
    )
    request_id = submitted.json()["request_id"]
    asked = await api.post(f"/predictions/{request_id}/explanation")
    assert asked.status_code == 202
    assert asked.headers["Location"] == f"/predictions/{request_id}/explanation"
    assert asked.json()["status"] == "pending" and "not answered yet" in asked.json()["detail"]
    log = tmp_path / "listener.log"
    with running_listener(models_db, env=real_env(trained_store), log=log) as proc:
        wait_listening(conn, proc, log=log)
        response = await api.post(f"/predictions/{request_id}/explanation?wait=30")
        assert response.status_code == 200, (response.text, log_text(log))


async def test_a_failed_prediction_has_nothing_to_explain(
    api: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    submitted = await api.post(
        "/predictions/request", json={"model_name": "logistic", "features": employee()}
    )
    request_id = submitted.json()["request_id"]
    conn.execute(
        "UPDATE prediction_requests SET status = 'failed', error = 'boom', completed_at = now()"
        " WHERE request_id = %s",
        [request_id],
    )
    response = await api.post(f"/predictions/{request_id}/explanation?wait=1")
    assert response.status_code == 409 and "boom" in response.json()["detail"]


async def keys_in_force(api: httpx.AsyncClient) -> None:
    """Until NOTIFY api_keys_changed reaches the app: then a read without a key is refused."""

    async def refused() -> bool:
        return (await api.get("/predictions/history")).status_code == 401

    await eventually(refused, "the app hears of the new keys")


async def test_asking_for_an_explanation_needs_a_key_once_keys_exist(
    api: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    submitted = await api.post(
        "/predictions/request", json={"model_name": "logistic", "features": employee()}
    )
    request_id = submitted.json()["request_id"]
    key = create_key(conn, "analyst", ["read"])  # reads (and may explain) every request
    await keys_in_force(api)
    assert (await api.post(f"/predictions/{request_id}/explanation")).status_code == 401
    asked = await api.post(f"/predictions/{request_id}/explanation", headers={"X-API-Key": key})
    assert asked.status_code == 202


async def test_the_api_serving_explanations_imports_no_model_library() -> None:
    # Explanations are computed by listeners: the API process must stay free of scikit-learn and shap.
    probe = (
        "import sys\n"
        "from service.app import create_app\n"
        "from service.settings import ApiSettings\n"
        "create_app(ApiSettings(database_url='postgresql://nobody@127.0.0.1:1/none', env='dev'))\n"
        "libraries = {'sklearn', 'shap', 'numba', 'onnxruntime', 'model_store.explain'}\n"
        "print(sorted(libraries & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stderr


async def settle(api: httpx.AsyncClient, body: dict[str, Any], timeout: float = 30.0) -> list[Any]:
    """POST /predictions/explanations until no item is pending or running (as the dashboard does)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await api.post("/predictions/explanations", json=body)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        waiting = [i for i in items if i is not None and i["status"] in ("pending", "running")]
        if not waiting or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.1)


async def test_the_explanations_of_a_whole_batch_come_in_one_call_with_their_top_reasons(
    api: httpx.AsyncClient, listener: Path, conn: psycopg.Connection
) -> None:
    rows = [employee(over_time=o, age=a) for o, a in (("Yes", 25), ("No", 50), ("Yes", 38))]
    submitted = await api.post(
        "/predictions/batch", json={"model_name": "logistic", "items": [{"features": r} for r in rows]}
    )
    assert submitted.status_code == 202, submitted.text
    ids = submitted.json()["request_ids"]
    # A request the listener failed (inserted failed, so no listener races the test for it).
    [failed] = conn.execute(
        "INSERT INTO prediction_requests (model_name, features, status, error, completed_at)"
        " VALUES ('logistic', %s::jsonb, 'failed', 'boom', now()) RETURNING request_id::text",
        [json.dumps(rows[0])],
    ).fetchone()
    unknown = "0190c3a0-0000-7000-8000-000000000000"
    asked = [*ids, unknown, failed, ids[0]]
    items = await settle(api, {"request_ids": asked, "top": 3})
    assert [i and i["request_id"] for i in items] == [*ids, None, failed, ids[0]]
    assert items[3] is None, "an unknown id gets null in its place"
    assert items[4]["status"] == "failed" and "boom" in items[4]["detail"] and items[4]["explanation"] is None
    for request_id, item in zip(ids, items, strict=False):
        assert item["status"] == "completed" and item["detail"] is None, item
        top = item["explanation"]
        assert top["request_id"] == request_id and top["scale"] == "log_odds"
        assert len(top["contributions"]) == 3
        # The same explanation as the single call, cut to its three largest contributions.
        full = (await api.get(f"/predictions/{request_id}/explanation")).json()
        assert top["contributions"] == full["contributions"][:3]
        assert {k: v for k, v in top.items() if k != "contributions"} == {
            k: v for k, v in full.items() if k != "contributions"
        }
    assert items[-1] == items[0], "an id asked twice is answered twice"
    # Asked once each: a failed prediction was not asked at all.
    assert conn.execute("SELECT count(*) FROM explanation_requests").fetchone() == (len(ids),)


async def test_many_explanations_follow_the_requests_keys_and_bound_their_body(
    api: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    owner, other = create_key(conn, "owner", ["submit"]), create_key(conn, "other", ["submit"])
    reader = create_key(conn, "analyst", ["read"])
    await keys_in_force(api)
    submitted = await api.post(
        "/predictions/request",
        json={"model_name": "logistic", "features": employee()},
        headers={"X-API-Key": owner},
    )
    request_id = submitted.json()["request_id"]
    body = {"request_ids": [request_id]}
    assert (await api.post("/predictions/explanations", json=body)).status_code == 401
    # Another submitter's request is as unknown to it as one that does not exist, and is not asked for.
    hidden = await api.post("/predictions/explanations", json=body, headers={"X-API-Key": other})
    assert hidden.status_code == 200 and hidden.json()["items"] == [None]
    assert conn.execute("SELECT count(*) FROM explanation_requests").fetchone() == (0,)
    pending = {
        "request_id": request_id,
        "status": "pending",
        "detail": "its prediction is not answered yet",
        "explanation": None,
    }
    for key in (owner, reader):
        seen = await api.post("/predictions/explanations", json=body, headers={"X-API-Key": key})
        assert seen.status_code == 200 and seen.json()["items"] == [pending]
    assert conn.execute("SELECT count(*) FROM explanation_requests").fetchone() == (1,)
    for bad in ({"request_ids": []}, {"request_ids": [request_id], "top": 0}, {"ids": [request_id]}):
        refused = await api.post("/predictions/explanations", json=bad, headers={"X-API-Key": owner})
        assert refused.status_code == 422, bad
