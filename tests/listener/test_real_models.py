"""End to end with the four real trained models: registered versions and hashes, poison, promotion."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from model_store.data import load_attrition
from model_store.registration import promote, register_manifest
from model_store.registry import ModelRegistry
from tests.listener.helpers import all_done, submit_rows, valid_features, wait_until
from tests.listener.procs import log_text, wait_listening
from tests.model_store.helpers import add_logistic_version
from tests.stack import real_env, running_api, running_listener

pytestmark = pytest.mark.slow

MODELS = ("dummy", "logistic", "random_forest", "random_forest_e04")


def test_each_model_answers_with_its_registered_version_hash_and_prediction(
    models_db: str,
    conn: psycopg.Connection,
    trained_store: Path,
    listener_log: Path,
) -> None:
    rows = [(name, valid_features(seed)) for name in MODELS for seed in range(25)]
    # A 10 min sweep: only NOTIFY can answer the lone request below within the test's 5 min timeout, so its
    # wait can be generous for a busy machine (a latency bound is test_process's `timing` test).
    env = real_env(trained_store, LISTENER_SWEEP_SECONDS="600")
    with running_listener(models_db, env=env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        ids = submit_rows(conn, rows)
        assert wait_until(all_done(conn, ids), 60), log_text(listener_log)
        # Warm now: a lone request is woken by NOTIFY, not found by the sweep.
        [lone] = submit_rows(conn, [("logistic", valid_features(99))])
        assert wait_until(all_done(conn, [lone]), 60, interval=0.005), "NOTIFY did not wake the listener"

    got = conn.execute(
        "SELECT r.id, r.model_name, r.status, res.model_version, res.model_sha256,"
        " res.prediction, res.probability, v.version, v.sha256"
        " FROM prediction_requests r JOIN prediction_results res ON res.request_id = r.id"
        " JOIN model_deployments d ON d.model_name = r.model_name"
        " JOIN model_versions v ON (v.model_name, v.version) = (d.model_name, d.version)"
        " WHERE r.id = ANY(%s) ORDER BY r.id",
        [ids],
    ).fetchall()
    assert len(got) == len(rows)
    assert all(g[2] == "completed" and (g[3], g[4]) == (g[7], g[8]) for g in got)
    # The same answers as the registry gives in this process, model by model.
    registry = ModelRegistry(models_db, trained_store)
    for name in MODELS:
        mine = [g for g in got if g[1] == name]
        classes, probabilities = registry.get(name).predict([f for m, f in rows if m == name])
        assert [g[5] for g in mine] == classes.tolist()
        assert np.allclose([g[6] for g in mine], probabilities, rtol=0, atol=1e-9)


def test_a_bad_value_fails_its_request_with_the_feature_named_and_neighbours_complete(
    models_db: str,
    conn: psycopg.Connection,
    trained_store: Path,
    listener_log: Path,
) -> None:
    good = valid_features()
    rows = [("random_forest_e04", good)] * 3 + [
        ("random_forest_e04", {**good, "business_travel": "Sometimes"})
    ]
    ids = submit_rows(conn, rows + [("random_forest_e04", good)] * 3)  # one batch, poison in the middle
    with running_listener(models_db, env=real_env(trained_store), log=listener_log):
        assert wait_until(all_done(conn, ids), 60), log_text(listener_log)
    got = conn.execute("SELECT status, error FROM prediction_requests ORDER BY id").fetchall()
    assert [s for s, _ in got] == ["completed"] * 3 + ["failed"] + ["completed"] * 3
    assert "business_travel" in got[3][1] and "Sometimes" in got[3][1]


def test_a_promotion_switches_a_running_listener_to_the_new_version(
    db_url: str,
    conn: psycopg.Connection,
    store: Path,
    listener_log: Path,
) -> None:
    register_manifest(db_url, store)
    newer = add_logistic_version(db_url, store, load_attrition(), C=0.05)  # registered, not deployed
    with running_listener(db_url, env=real_env(store), log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        before = submit_rows(conn, [("logistic", valid_features())])
        assert wait_until(all_done(conn, before), 60), log_text(listener_log)

        promote(db_url, "logistic", newer["version"])  # a row change; its trigger NOTIFYs model_promoted

        def answered_by_newer() -> bool:
            ids = submit_rows(conn, [("logistic", valid_features())])
            assert wait_until(all_done(conn, ids), 30), log_text(listener_log)
            row = conn.execute("SELECT model_version FROM prediction_results WHERE request_id = %s", ids)
            return row.fetchone() == (newer["version"],)

        assert wait_until(answered_by_newer, 60, interval=0.1), log_text(listener_log)
        assert proc.poll() is None  # no restart
    first = conn.execute(
        "SELECT model_version FROM prediction_results WHERE request_id = %s", before
    ).fetchone()
    assert first is not None and first[0] != newer["version"]


def test_a_refused_artifact_is_reported_unavailable_and_served_again_once_restored(
    db_url: str, conn: psycopg.Connection, store: Path, tmp_path: Path, listener_log: Path
) -> None:
    register_manifest(db_url, store)
    [artifact] = conn.execute(
        "SELECT v.artifact_path FROM model_deployments d JOIN model_versions v USING (model_name, version)"
        " WHERE d.model_name = 'logistic'"
    ).fetchone()
    path = store / artifact
    good = path.read_bytes()
    path.write_bytes(good + b"\0")  # one byte appended: its sha256 is no longer the registered one

    env = {**real_env(store), "LISTENER_HEARTBEAT_SECONDS": "0.5"}
    body = {"model_name": "logistic", "features": valid_features()}
    with (
        running_listener(db_url, env=env, log=listener_log) as proc,
        running_api(db_url, env={"ENV": "dev"}, log=tmp_path / "api.log") as base,
    ):
        wait_listening(conn, proc, log=listener_log)

        def refusal_published() -> bool:  # the listener publishes it just after its heartbeat row appears
            return "logistic" in httpx.get(f"{base}/health", timeout=10).json().get("unavailable_models", {})

        assert wait_until(refusal_published, 30), log_text(listener_log)
        health = httpx.get(f"{base}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
        reason = health.json()["unavailable_models"]["logistic"]
        assert "sha256" in reason and str(store) not in reason and artifact not in reason
        models = {m["name"]: m for m in httpx.get(f"{base}/models/", timeout=10).json()}
        assert models["logistic"]["available"] is False and models["logistic"]["unavailable_reason"] == reason
        assert models["dummy"]["available"] is True and models["dummy"]["unavailable_reason"] is None

        failed = httpx.post(f"{base}/predictions/request?wait=30", json=body, timeout=45).json()
        assert failed["status"] == "failed" and "sha256" in failed["error"]
        assert str(store) not in failed["error"] and artifact not in failed["error"]

        path.write_bytes(good)  # restored: the running listener serves it again, no restart
        assert wait_until(lambda: httpx.get(f"{base}/health", timeout=10).json()["status"] == "ok", 60), (
            log_text(listener_log)
        )
        assert httpx.get(f"{base}/models/logistic", timeout=10).json()["available"] is True
        answered = httpx.post(f"{base}/predictions/request?wait=30", json=body, timeout=45).json()
        assert answered["status"] == "completed", answered
        assert proc.poll() is None
