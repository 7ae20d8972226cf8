"""GET /models/compare: a shadow challenger against the clients' answers on the same requests. The SQL's
paired count, agreement, mean difference, ROC-AUCs, DeLong difference and p-value equal an independent
computation on the same rows (ties included); windows, versions and errors count as a user expects.
GET /models/events lists model changes from the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

pytestmark = pytest.mark.anyio

TOLERANCE = 1e-9

# Answered requests `ago` seconds back, their challenger answers (NULL p_b: the challenger failed) and
# outcomes (NULL y: none posted).
PAIRS = """
WITH d AS (
    SELECT * FROM unnest(%(pa)s::float8[], %(pb)s::float8[], %(y)s::int[], %(ago)s::float8[])
        WITH ORDINALITY AS d (pa, pb, y, ago, i)
), req AS (
    INSERT INTO prediction_requests (model_name, status, features, created_at, completed_at)
    SELECT 'random_forest_e04', 'completed', jsonb_build_object('i', d.i),
           now() - make_interval(secs => d.ago), now()
    FROM d
    RETURNING id, (features->>'i')::bigint AS i
), res AS (
    INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)
    SELECT req.id, (d.pa >= 0.4)::int, d.pa, %(primary_version)s, repeat('0', 64) FROM req JOIN d USING (i)
), shadow AS (
    INSERT INTO shadow_predictions
        (request_id, model_name, model_version, model_sha256, prediction, probability, error)
    SELECT req.id, 'logistic', %(challenger_version)s,
           CASE WHEN d.pb IS NOT NULL THEN repeat('1', 64) END,
           CASE WHEN d.pb IS NOT NULL THEN (d.pb >= 0.5)::int END, d.pb,
           CASE WHEN d.pb IS NULL THEN 'shadow logistic failed: boom' END
    FROM req JOIN d USING (i)
)
INSERT INTO prediction_outcomes (request_id, label, observed_at, source)
SELECT req.id, d.y, now(), 'test' FROM req JOIN d USING (i) WHERE d.y IS NOT NULL
"""


def add_pairs(
    conn: psycopg.Connection,
    pa: list[float],
    pb: list[float | None],
    y: list[int | None],
    ago: float = 60.0,
    primary_version: str = "rf-1",
    challenger_version: str = "lr-1",
) -> None:
    conn.execute(
        PAIRS,
        {
            "pa": pa,
            "pb": pb,
            "y": y,
            "ago": [ago] * len(pa),
            "primary_version": primary_version,
            "challenger_version": challenger_version,
        },
    )


def delong(y: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> tuple[float, float, float]:
    """(AUC a, AUC b, two-sided p of b - a), straight from DeLong et al. (1988): the O(m n) kernel."""
    pos, neg = y == 1, y == 0

    def components(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, z = p[pos][:, None], p[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        return psi.mean(axis=1), psi.mean(axis=0)

    a10, a01 = components(pa)
    b10, b01 = components(pb)
    s10, s01 = np.cov(np.vstack([a10, b10])), np.cov(np.vstack([a01, b01]))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum() + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / neg.sum()
    difference = b10.mean() - a10.mean()
    return a10.mean(), b10.mean(), 2 * norm.sf(abs(difference / np.sqrt(variance)))


def traffic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, and two correlated scores on a 0.01 grid (many ties within and across models)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    signal = y * 0.8 + rng.normal(0, 1, n)
    pa = np.round(1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, n)))), 2)
    pb = np.round(1 / (1 + np.exp(-(signal + rng.normal(0, 0.4, n)))), 2)
    return y, pa, pb


async def compare(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/models/compare", params={"challenger": "logistic", **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_comparison_equals_an_independent_delong_on_the_same_rows(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    y, pa, pb = traffic(700, seed=3)
    labels: list[int | None] = [None if i % 7 == 0 else int(v) for i, v in enumerate(y)]
    challenger: list[float | None] = [None if i % 50 == 1 else float(v) for i, v in enumerate(pb)]
    add_pairs(conn, pa.tolist(), challenger, labels)
    add_pairs(conn, [0.9, 0.1], [0.1, 0.9], [0, 1], ago=40 * 86400.0)  # outside the default 30-day window

    got = await compare(client)

    answered = np.array([c is not None for c in challenger])
    labelled = answered & np.array([label is not None for label in labels])
    assert got["paired"] == answered.sum()
    assert got["shadow_errors"] == (~answered).sum()
    assert got["challenger_versions"] == ["lr-1"]
    assert got["primary_versions"] == [
        {"model_name": "random_forest_e04", "version": "rf-1", "paired": int(answered.sum())}
    ]
    decided_a, decided_b = pa >= 0.4, pb >= 0.5
    assert got["agreement"] == pytest.approx((decided_a == decided_b)[answered].mean(), abs=TOLERANCE)
    assert got["mean_abs_difference"] == pytest.approx(np.abs(pa - pb)[answered].mean(), abs=TOLERANCE)
    assert got["labelled"] == labelled.sum() and got["positives"] == y[labelled].sum()

    auc_a, auc_b, p_value = delong(y[labelled], pa[labelled], pb[labelled])
    assert auc_a == pytest.approx(roc_auc_score(y[labelled], pa[labelled]), abs=TOLERANCE)
    assert got["primary_roc_auc"] == pytest.approx(auc_a, abs=TOLERANCE)
    assert got["challenger_roc_auc"] == pytest.approx(auc_b, abs=TOLERANCE)
    assert got["roc_auc_difference"] == pytest.approx(auc_b - auc_a, abs=TOLERANCE)
    assert got["p_value"] == pytest.approx(p_value, abs=TOLERANCE)
    assert 0 < got["p_value"] < 1 and got["enough_labels"] and got["note"] is None
    assert got["shadowing"] is False  # no model_shadows row: the rows are history


async def test_one_class_and_no_pairs_are_not_computable_and_say_why(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    nothing = await compare(client)
    assert nothing["paired"] == 0 and nothing["p_value"] is None and not nothing["enough_labels"]
    assert "scored no request" in nothing["note"]

    add_pairs(conn, [0.2, 0.3, 0.7], [0.1, 0.5, 0.8], [0, 0, 0])
    one_class = await compare(client)
    assert one_class["labelled"] == 3
    assert one_class["primary_roc_auc"] is None and one_class["challenger_roc_auc"] is None
    assert one_class["p_value"] is None
    assert "need both outcomes" in one_class["note"]


async def test_identical_rankings_differ_by_nothing(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    y, pa, _ = traffic(200, seed=4)
    add_pairs(conn, pa.tolist(), (pa / 2).tolist(), y.tolist())  # same order, other scale
    got = await compare(client)
    assert got["roc_auc_difference"] == 0 and got["p_value"] == 1.0
    assert got["primary_roc_auc"] == pytest.approx(roc_auc_score(y, pa), abs=TOLERANCE)


async def test_a_version_and_a_window_narrow_the_pairs(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    add_pairs(conn, [0.2, 0.8], [0.3, 0.7], [0, 1], challenger_version="lr-1")
    add_pairs(conn, [0.2, 0.8, 0.5], [0.3, 0.7, 0.5], [0, 1, 1], challenger_version="lr-2", ago=7200.0)
    assert (await compare(client))["paired"] == 5
    assert (await compare(client, version="lr-2"))["paired"] == 3
    recent = await compare(client, since=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    assert recent["paired"] == 2 and recent["challenger_versions"] == ["lr-1"]
    response = await client.get(
        "/models/compare", params={"challenger": "logistic", "since": "2030-01-02", "until": "2030-01-01"}
    )
    assert response.status_code == 422 and "since" in response.text
    assert (await client.get("/models/compare")).status_code == 422  # challenger is required


async def test_events_list_model_changes_newest_first_with_who_and_the_facts(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    for name, version in (("logistic", "lr-1"), ("logistic", "lr-2"), ("dummy", "d-1")):
        conn.execute(
            "INSERT INTO model_versions"
            " (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
            " VALUES (%s, %s, 'x.joblib', repeat('0', 64), '1.0', '[]')",
            (name, version),
        )
    conn.execute("INSERT INTO model_deployments VALUES ('dummy', 'd-1', true), ('logistic', 'lr-1', false)")
    with conn.transaction():
        conn.execute("SELECT set_audit_context('cli:ann', '{\"reason\": \"try it\"}')")
        conn.execute("INSERT INTO model_shadows (model_name, version) VALUES ('logistic', 'lr-2')")
    conn.execute("SELECT audit('key.created', 'ops', '{}')")  # not a model event
    conn.execute("DELETE FROM model_shadows")

    response = await client.get("/models/events")
    assert response.status_code == 200, response.text
    events = response.json()
    assert [(e["action"], e["subject"]) for e in events] == [
        ("model.shadow_stopped", "logistic"),
        ("model.shadow_started", "logistic"),
        ("model.deployed", "logistic"),
        ("model.deployed", "dummy"),
    ]
    assert events[1]["actor"] == "cli:ann"
    assert events[1]["details"] == {"from_version": None, "to_version": "lr-2", "reason": "try it"}
    assert events[0]["details"] == {"version": "lr-2"}
    only = (await client.get("/models/events", params={"model": "dummy", "limit": 5})).json()
    assert [e["subject"] for e in only] == ["dummy"]
