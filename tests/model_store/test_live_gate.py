"""`promote NAME --require-live-evidence`: refuses (exit 2, the figures and why) unless the challenger, scored
in the shadow, beats the default on enough labelled live requests with a significant DeLong test; the
promotion it allows records that evidence and verdict in the audit trail.
`shadow` / `unshadow` from the CLI."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from tests.api.test_compare import add_pairs
from tests.model_store.test_cli import run

REGISTER = """
INSERT INTO model_versions (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)
VALUES ('random_forest_e04', 'rf-1', 'rf.joblib', repeat('0', 64), '1.0', '[]'),
       ('logistic', 'lr-1', 'lr.joblib', repeat('1', 64), '1.0', '[]');
INSERT INTO model_deployments VALUES ('random_forest_e04', 'rf-1', true), ('logistic', 'lr-1', false);
"""


@pytest.fixture
def deployed(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute(REGISTER)
    return conn


def default(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT model_name FROM model_deployments WHERE is_default").fetchone()
    assert row is not None
    return row[0]


def live_traffic(conn: psycopg.Connection, n: int, challenger_noise: float, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(int)
    signal = y * 1.2 + rng.normal(0, 1, n)
    primary = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.5, n))))
    challenger = 1 / (1 + np.exp(-(signal + rng.normal(0, challenger_noise, n))))
    add_pairs(conn, primary.tolist(), challenger.tolist(), y.tolist())


def test_a_significantly_better_challenger_is_promoted_with_its_evidence_on_record(
    deployed: psycopg.Connection, db_url: str, tmp_path
) -> None:
    live_traffic(deployed, 600, challenger_noise=0.1)
    # --force: this store has no offline evaluation for the CV gate; it never overrides the live gate.
    out = run(
        ["promote", "logistic", "--require-live-evidence", "--force", "--reason", "beats it live"],
        tmp_path,
        db_url,
    )
    assert out.returncode == 0, out.stderr
    assert "live gate passed" in out.stdout and "significantly better" in out.stdout
    assert default(deployed) == "logistic"
    [(actor, details)] = deployed.execute(
        "SELECT actor, details FROM audit_events WHERE action = 'model.promoted'"
    ).fetchall()
    assert actor.startswith("cli:")
    assert details["reason"] == "beats it live" and details["live_gate"]["passed"] is True
    evidence = details["live_evidence"]
    assert evidence["labelled"] == 600 and evidence["p_value"] < 0.05
    assert evidence["challenger_roc_auc"] > evidence["primary_roc_auc"]
    assert details["from_default"] == {"model": "random_forest_e04", "version": "rf-1"}


@pytest.mark.parametrize(
    ("pairs", "noise", "why"),
    [
        (0, 0.1, "no answer in the shadow"),
        (30, 0.1, "at least 50 with both outcomes"),
        (600, 3.0, "not better than the default"),
    ],
)
def test_without_enough_evidence_the_promotion_is_refused_and_nothing_changes(
    deployed: psycopg.Connection, db_url: str, tmp_path, pairs: int, noise: float, why: str
) -> None:
    if pairs:
        live_traffic(deployed, pairs, challenger_noise=noise)
    out = run(["promote", "logistic", "--require-live-evidence", "--force"], tmp_path, db_url)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "refused by the live gate" in out.stderr and why in out.stderr
    assert default(deployed) == "random_forest_e04"
    assert deployed.execute(
        "SELECT count(*) FROM audit_events WHERE action = 'model.promoted'"
    ).fetchone() == (0,)


def test_shadow_and_unshadow_from_the_cli(deployed: psycopg.Connection, db_url: str, tmp_path) -> None:
    started = run(["shadow", "logistic"], tmp_path, db_url)
    assert started.returncode == 0 and "logistic lr-1 now runs in the shadow" in started.stdout, (
        started.stderr
    )
    assert deployed.execute("SELECT model_name, version FROM model_shadows").fetchall() == [
        ("logistic", "lr-1")
    ]
    stopped = run(["unshadow", "logistic"], tmp_path, db_url)
    assert stopped.returncode == 0 and "no longer runs in the shadow" in stopped.stdout
    again = run(["unshadow", "logistic"], tmp_path, db_url)
    assert again.returncode == 1 and "not running in the shadow" in again.stderr
    unknown = run(["shadow", "nosuch"], tmp_path, db_url)
    assert unknown.returncode == 1 and "not found" in unknown.stderr
