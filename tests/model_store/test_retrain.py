"""`train --from-outcomes`: a candidate fitted on the labelled production requests (one row per employee),
registered as a new version that loads and verifies like any other, attached as a shadow when asked;
too few labels is refused with the counts."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from model_store.data import load_attrition
from model_store.deployments import DeployedModel
from model_store.drift_reference import DriftReference, reference_from
from model_store.loading import load_handle
from model_store.manifest import sha256_hex
from tests.model_store.test_cli import run

TRAFFIC = """
WITH d AS (
    SELECT * FROM unnest(%(features)s::jsonb[], %(labels)s::int[], %(subjects)s::text[])
        WITH ORDINALITY AS d (features, label, subject, i)
), req AS (
    INSERT INTO prediction_requests (model_name, status, features, subject_ref, completed_at)
    SELECT 'random_forest_e04', 'completed', d.features, d.subject, now() FROM d ORDER BY d.i
    RETURNING id, subject_ref, features
), res AS (
    INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)
    SELECT id, 0, 0.2, 'rf-1', repeat('0', 64) FROM req
)
INSERT INTO prediction_outcomes (request_id, label, observed_at, source)
SELECT req.id, d.label, now(), 'test'
FROM req JOIN d ON d.features = req.features AND d.subject = req.subject_ref
WHERE d.label IS NOT NULL
"""


def add_traffic(conn: psycopg.Connection, rows: range, labelled: bool = True) -> None:
    data = load_attrition()
    records = json.loads(data.X.to_json(orient="records"))
    conn.execute(
        TRAFFIC,
        {
            "features": [json.dumps(records[i]) for i in rows],
            "labels": [int(data.y[i]) if labelled else None for i in rows],
            "subjects": [f"E-{i}" for i in rows],
        },
    )


def test_a_candidate_trained_on_labelled_traffic_is_registered_and_shadowed(
    conn: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    add_traffic(conn, range(0, 400))
    add_traffic(conn, range(0, 100))  # the same employees predicted again: they count once
    add_traffic(conn, range(400, 500), labelled=False)  # no outcome: not training data
    conn.execute(
        "INSERT INTO model_versions"
        " (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
        " VALUES ('random_forest_e04', 'rf-1', 'rf.joblib', repeat('0', 64), '1.0', '[]')"
    )
    conn.execute("INSERT INTO model_deployments VALUES ('random_forest_e04', 'rf-1', true)")

    out = run(["train", "--from-outcomes", "--shadow"], tmp_path, db_url)

    assert out.returncode == 0, out.stderr
    assert "on 400 labelled request(s)" in out.stdout and "now runs in the shadow" in out.stdout
    [(name, version, path, sha, threshold, metrics, trained_sha, sklearn_version)] = conn.execute(
        "SELECT model_name, version, artifact_path, sha256, threshold, metrics, training_data_sha256,"
        " sklearn_version"
        " FROM model_versions WHERE model_name = 'logistic'"
    ).fetchall()
    assert metrics["trained_on"]["labelled_requests"] == 400 and metrics["trained_on"]["rows"] == 400
    # What it was fitted on is stored with it: those 400 employees, not the packaged data set.
    source, rows, positives, reference = conn.execute(
        "SELECT training_source, training_rows, training_positives, reference FROM model_versions"
        " WHERE model_name = 'logistic'"
    ).fetchone()
    employees = load_attrition()
    assert (source, rows, positives) == ("labelled production requests", 400, int(employees.y[:400].sum()))
    assert reference["training_data_sha256"] == trained_sha
    assert DriftReference.from_json(reference).features == reference_from(employees.X.iloc[:400])
    assert 0.6 < metrics["cv_oof"]["roc_auc"] <= 1 and trained_sha
    assert sha256_hex((tmp_path / path).read_bytes()) == sha
    model = DeployedModel(name, version, False, sha, threshold, sklearn_version, path)
    handle = load_handle(model, tmp_path)  # verified against the registered sha256, then unpickled
    assert handle.predict([json.loads(load_attrition().X.iloc[[0]].to_json(orient="records"))[0]])[
        1
    ].shape == (1,)
    assert conn.execute("SELECT model_name, version FROM model_shadows").fetchall() == [("logistic", version)]
    assert conn.execute(
        "SELECT count(*) FROM model_deployments WHERE model_name = 'logistic'"
    ).fetchone() == (0,)


def test_too_few_labels_are_refused_with_the_counts(
    conn: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    add_traffic(conn, range(0, 12))
    out = run(["train", "--from-outcomes", "--since", "2020-01-01"], tmp_path, db_url)
    assert out.returncode == 1
    assert "too few labelled requests to train on since 2020-01-01" in out.stderr and "12 with" in out.stderr
    assert conn.execute("SELECT count(*) FROM model_versions").fetchone() == (0,)
