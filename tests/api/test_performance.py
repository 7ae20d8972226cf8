"""GET /monitoring/performance: the SQL figures equal scikit-learn's on the same rows (ties included), a
one-class window is not computable (null, not 0.5), too few labels are said plainly, windows and models
filter, and /metrics carries the live gauges."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from model_store.data import load_attrition
from model_store.registration import register_manifest
from tests.stack import running_api, running_listener

pytestmark = pytest.mark.anyio

TOLERANCE = 1e-9
THRESHOLD = 0.35

# Answered predictions placed `ago` seconds back, each with its probability and (unless NULL) its outcome.
PREDICTIONS = """
WITH d AS (
    SELECT * FROM unnest(%(p)s::float8[], %(y)s::int[], %(ago)s::float8[]) WITH ORDINALITY AS d (p, y, ago, i)
), req AS (
    INSERT INTO prediction_requests (model_name, status, features, created_at, completed_at)
    SELECT %(model)s, 'completed', jsonb_build_object('i', d.i), now() - make_interval(secs => d.ago), now()
    FROM d
    RETURNING id, (features->>'i')::bigint AS i
), res AS (
    INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)
    SELECT req.id, (d.p >= %(threshold)s)::int, d.p, %(version)s, repeat('0', 64) FROM req JOIN d USING (i)
), corrected AS (
    -- An earlier, wrong outcome replaced by the current one: history that must not count.
    INSERT INTO prediction_outcomes (request_id, label, observed_at, source, recorded_at, superseded_at)
    SELECT req.id, 1 - d.y, now(), 'test', now() - interval '1 day', now()
    FROM req JOIN d USING (i) WHERE d.y IS NOT NULL AND d.i %% 7 = 0
)
INSERT INTO prediction_outcomes (request_id, label, observed_at, source)
SELECT req.id, d.y, now(), 'test' FROM req JOIN d USING (i) WHERE d.y IS NOT NULL
"""
VERSION = """
INSERT INTO model_versions (model_name, version, artifact_path, sha256, sklearn_version, threshold, metrics,
                            feature_schema)
VALUES (%s, %s, 'x.joblib', repeat('0', 64), '1.0', %s, %s, '[]')
"""
# The same rows as the API reads them: answered, current outcome, with their submission time.
LABELLED = """
SELECT res.model_version, r.created_at, res.probability, res.prediction, o.label
FROM prediction_requests r
JOIN prediction_results res ON res.request_id = r.id
JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
WHERE r.model_name = %s AND r.created_at >= %s
"""


def add_predictions(
    conn: psycopg.Connection,
    probabilities: list[float],
    labels: list[int | None],
    ago_seconds: list[float],
    model: str = "logistic",
    version: str = "v1",
) -> None:
    params = {
        "p": probabilities,
        "y": labels,
        "ago": ago_seconds,
        "model": model,
        "version": version,
        "threshold": THRESHOLD,
    }
    conn.execute(PREDICTIONS, params)


def random_traffic(n: int, seed: int) -> tuple[list[float], list[int]]:
    """Probabilities on a 0.01 grid (so many ties), and labels drawn from them."""
    rng = np.random.default_rng(seed)
    p = np.round(rng.beta(1.2, 4.0, n), 2)
    y = (rng.random(n) < p).astype(int)
    return p.tolist(), y.tolist()


async def performance(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/monitoring/performance", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def one(answer: dict[str, Any], model: str, version: str) -> dict[str, Any]:
    (found,) = [m for m in answer["models"] if m["model_name"] == model and m["version"] == version]
    return found


def assert_figures_equal_sklearn(
    got: dict[str, Any], y: np.ndarray, p: np.ndarray, decided: np.ndarray
) -> None:
    assert got["labelled"] == len(y) and got["positives"] == int(y.sum())
    assert got["positive_rate"] == pytest.approx(y.mean(), abs=TOLERANCE)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=TOLERANCE)
    assert got["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=TOLERANCE)
    assert got["brier"] == pytest.approx(brier_score_loss(y, p), abs=TOLERANCE)
    assert got["precision"] == pytest.approx(precision_score(y, decided), abs=TOLERANCE)
    assert got["recall"] == pytest.approx(recall_score(y, decided), abs=TOLERANCE)
    assert got["f1"] == pytest.approx(f1_score(y, decided), abs=TOLERANCE)


async def test_live_figures_equal_scikit_learn_on_the_same_rows(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    conn.execute(VERSION, ["logistic", "v1", THRESHOLD, '{"roc_auc": 0.84}'])
    for version, seed in (("v1", 1), ("v2", 2)):
        p, y = random_traffic(600, seed)
        unlabelled = [None if i % 5 == 0 else label for i, label in enumerate(y)]
        add_predictions(conn, p, unlabelled, [i * 5.0 for i in range(600)], version=version)
    add_predictions(conn, [0.9, 0.1], [0, 1], [3 * 3600.0] * 2)  # outside the window
    since = datetime.now(UTC) - timedelta(hours=1)

    answer = await performance(client, since=since.isoformat(), model="logistic")

    rows = conn.execute(LABELLED, ["logistic", since]).fetchall()
    for version in ("v1", "v2"):
        mine = [r for r in rows if r[0] == version]
        y = np.array([r[4] for r in mine])
        p = np.array([r[2] for r in mine])
        got = one(answer, "logistic", version)
        assert got["predictions"] == 600 and got["labelled"] == 480
        assert len(np.unique(p)) < len(p) / 4  # ties, many of them
        assert_figures_equal_sklearn(got, y, p, np.array([r[3] for r in mine]))
        assert got["enough_labels"] is True and got["note"] is None
    v1 = one(answer, "logistic", "v1")
    assert v1["threshold"] == THRESHOLD and v1["offline_metrics"] == {"roc_auc": 0.84}
    assert one(answer, "logistic", "v2")["threshold"] is None  # not registered


async def test_each_time_bucket_equals_scikit_learn_on_its_rows(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    p, y = random_traffic(800, 3)
    add_predictions(conn, p, y, [i * 4.0 for i in range(800)])
    since = datetime.now(UTC) - timedelta(hours=1)

    answer = await performance(client, since=since.isoformat())

    got = one(answer, "logistic", "v1")
    width = answer["window"]["bucket_seconds"]
    rows = conn.execute(LABELLED, ["logistic", since]).fetchall()
    buckets: dict[float, list[tuple]] = {}
    for row in rows:
        buckets.setdefault(row[1].timestamp() // width * width, []).append(row)
    assert sum(point["labelled"] for point in got["over_time"]) == got["labelled"] == 800
    assert len(got["over_time"]) == len(buckets) > 10
    for point in got["over_time"]:
        mine = buckets[datetime.fromisoformat(point["bucket"]).timestamp()]
        y_b, p_b = np.array([r[4] for r in mine]), np.array([r[2] for r in mine])
        assert point["labelled"] == len(mine)
        assert point["brier"] == pytest.approx(brier_score_loss(y_b, p_b), abs=TOLERANCE)
        if 0 < y_b.sum() < len(y_b):
            assert point["roc_auc"] == pytest.approx(roc_auc_score(y_b, p_b), abs=TOLERANCE)
            assert point["pr_auc"] == pytest.approx(average_precision_score(y_b, p_b), abs=TOLERANCE)
        else:
            assert point["roc_auc"] is None and point["pr_auc"] is None


async def test_calibration_bins_hold_predicted_against_observed(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    p, y = random_traffic(500, 4)
    p[0], y[0] = 1.0, 1  # a probability of exactly 1 belongs to the last bin
    add_predictions(conn, p, y, [1.0] * 500)

    bins = one(await performance(client), "logistic", "v1")["calibration"]

    assert [(b["bin_start"], b["bin_end"]) for b in bins] == [(i / 10, (i + 1) / 10) for i in range(10)]
    p_a, y_a = np.array(p), np.array(y)
    index = np.minimum((p_a * 10).astype(int), 9)
    for i, b in enumerate(bins):
        inside = index == i
        assert b["count"] == int(inside.sum())
        if b["count"]:
            assert b["mean_predicted"] == pytest.approx(p_a[inside].mean(), abs=TOLERANCE)
            assert b["observed_rate"] == pytest.approx(y_a[inside].mean(), abs=TOLERANCE)
        else:
            assert b["mean_predicted"] is None and b["observed_rate"] is None


async def test_a_window_with_one_class_only_is_not_computable(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    add_predictions(conn, [0.2, 0.7, 0.7, 0.4] * 20, [0] * 80, [1.0] * 80)

    got = one(await performance(client), "logistic", "v1")

    assert got["labelled"] == 80 and got["positives"] == 0
    assert got["roc_auc"] is None and got["pr_auc"] is None and got["recall"] is None
    assert got["brier"] == pytest.approx(np.mean(np.array([0.2, 0.7, 0.7, 0.4]) ** 2), abs=TOLERANCE)
    assert got["precision"] == 0.0
    assert got["enough_labels"] is False and "not computable" in got["note"]
    assert "stayed" in got["note"]


async def test_too_few_labels_are_said_plainly(client: httpx.AsyncClient, conn: psycopg.Connection) -> None:
    add_predictions(conn, [0.2, 0.8, 0.6], [0, 1, None], [1.0] * 3, model="random_forest")
    add_predictions(conn, [0.3], [None], [1.0], model="dummy")

    answer = await performance(client)

    forest = one(answer, "random_forest", "v1")
    assert forest["labelled"] == 2 and forest["roc_auc"] == 1.0 and forest["enough_labels"] is False
    assert (
        forest["note"]
        == f"Only 2 labelled predictions: too few to judge (at least {answer['min_labels']} needed)."
    )
    dummy = one(answer, "dummy", "v1")
    assert dummy["labelled"] == 0 and dummy["brier"] is None and dummy["calibration"] == []
    assert dummy["note"].startswith("No outcome posted yet")


async def test_the_window_and_the_model_filter(client: httpx.AsyncClient, conn: psycopg.Connection) -> None:
    add_predictions(conn, [0.2, 0.8], [0, 1], [10.0, 10.0])
    add_predictions(conn, [0.2, 0.8], [0, 1], [10.0, 10.0], model="dummy")
    now = datetime.now(UTC)

    assert {m["model_name"] for m in (await performance(client, model="dummy"))["models"]} == {"dummy"}
    earlier = await performance(client, until=(now - timedelta(minutes=1)).isoformat())
    assert earlier["models"] == []
    assert (await performance(client))["window"]["since"] < now.isoformat()
    backwards = await client.get(
        "/monitoring/performance", params={"since": now.isoformat(), "until": "2020-01-01"}
    )
    assert backwards.status_code == 422 and "since" in str(backwards.json())


async def test_a_version_retrained_from_outcomes_shows_its_out_of_fold_scores_as_its_cv_means(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    oof = {"roc_auc": 0.81, "f1": 0.47}  # as `train --from-outcomes` registers them (model_store/retrain.py)
    conn.execute(VERSION, ["logistic", "v1", THRESHOLD, json.dumps({"cv_oof": oof})])
    add_predictions(conn, [0.2, 0.8], [0, 1], [10.0, 10.0])

    offline = one(await performance(client), "logistic", "v1")["offline_metrics"]
    assert offline == {"cv_oof": oof, "cv": {"roc_auc": {"mean": 0.81}, "f1": {"mean": 0.47}}}


async def test_metrics_carry_the_live_figures_per_version(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    p, y = random_traffic(200, 5)
    add_predictions(conn, p, y, [1.0] * 200)
    add_predictions(conn, [0.3, 0.6], [0, 0], [1.0] * 2, model="dummy")

    text = (await client.get("/metrics")).text

    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("model_live_")
    }
    labels = '{model="logistic",version="v1"}'
    assert samples["model_live_labelled" + labels] == 200
    assert samples["model_live_roc_auc" + labels] == pytest.approx(roc_auc_score(y, p), abs=TOLERANCE)
    assert samples["model_live_brier" + labels] == pytest.approx(brier_score_loss(y, p), abs=TOLERANCE)
    dummy = '{model="dummy",version="v1"}'
    assert samples["model_live_labelled" + dummy] == 2
    assert "model_live_roc_auc" + dummy not in samples  # one class: not computable, so absent


@pytest.mark.slow
def test_real_employees_predicted_then_their_outcomes_give_the_live_roc_auc(
    db_url: str, trained_store: Path, tmp_path: Path
) -> None:
    """The loop as a user drives it: 1,470 real employees through the real models, their true outcomes
    posted by subject, the live ROC-AUC read back and checked against scikit-learn on the same answers."""
    register_manifest(db_url, trained_store)
    data = load_attrition()
    items = [
        {"features": features, "subject_ref": f"E-{n}"}
        for n, features in enumerate(json.loads(data.X.to_json(orient="records")))
    ]
    env = {"ENV": "dev", "MODEL_STORE_DIR": str(trained_store)}
    with (
        running_api(db_url, env=env, log=tmp_path / "api.log") as base,
        running_listener(db_url, env=env, log=tmp_path / "listener.log"),
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        submitted = http.post("/predictions/batch", json={"model_name": "logistic", "items": items})
        assert submitted.status_code == 202, submitted.text[:500]
        ids = submitted.json()["request_ids"]
        assert http.get(f"/predictions/{ids[-1]}?wait=30").json()["status"] == "completed"
        answers = wait_all_completed(http, ids)
        observed = datetime.now(UTC).isoformat()
        outcomes = [
            {"subject_ref": f"E-{n}", "label": int(label), "observed_at": observed}
            for n, label in enumerate(data.y)
        ]

        posted = http.post("/outcomes", json={"items": outcomes}).json()
        live = http.get("/monitoring/performance", params={"model": "logistic"}).json()

    assert (posted["matched"], posted["recorded"], posted["unknown"]) == (1470, 1470, 0)
    (got,) = live["models"]
    p = np.array([a["result"]["probability"] for a in answers])
    assert got["version"] == answers[0]["result"]["model_version"]
    assert got["labelled"] == 1470 and got["positives"] == 237 and got["enough_labels"] is True
    assert got["roc_auc"] == pytest.approx(roc_auc_score(data.y, p), abs=TOLERANCE)
    assert got["pr_auc"] == pytest.approx(average_precision_score(data.y, p), abs=TOLERANCE)
    assert got["roc_auc"] > 0.8  # its own training data, mostly: a sanity check, not a claim
    assert got["offline_metrics"]


def wait_all_completed(http: httpx.Client, ids: list[str], timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = http.post("/predictions/lookup", json={"request_ids": ids}).json()["items"]
        if all(item["status"] == "completed" for item in items):
            return items
        time.sleep(0.2)
    raise AssertionError("not every prediction completed")
