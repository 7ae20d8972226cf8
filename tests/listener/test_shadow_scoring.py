"""Shadow scoring on a real database, with challengers under the test's control: a row a challenger cannot
score fails alone (its neighbours get their shadow answers), a challenger that could not be loaded leaves
error rows, the answers written before stay as they were, and only the default model's requests count."""

from __future__ import annotations

import psycopg

from listener.claims import claim_pending, record_outcomes
from listener.inference import infer_batch
from listener.shadows import ShadowScoring
from model_store.deployments import DeployedModel
from model_store.shadows import Shadow
from tests.listener.helpers import FakeHandle, FakeRegistry, submit, valid_features


class DefaultRegistry(FakeRegistry):
    def default_name(self) -> str:
        return "random_forest_e04"


class Fixed:
    """A shadow source that always answers the same shadows."""

    def __init__(self, *shadows: Shadow) -> None:
        self.shadows = list(shadows)

    def refresh(self, conn: psycopg.Connection) -> list[Shadow]:
        return self.shadows


def model(name: str, version: str = "v-shadow") -> DeployedModel:
    return DeployedModel(name, version, False, "cd" * 32, 0.5, "x", "")


def answered_batch(conn: psycopg.Connection, registry: FakeRegistry):
    poisoned = {**valid_features(3), "job_role": "poison-for-shadow"}
    submit(conn, 6, "random_forest_e04")
    submit(conn, 1, "random_forest_e04", poisoned)
    submit(conn, 2, "dummy")
    claims = claim_pending(conn, "test", 100, 30)
    outcome = infer_batch(registry, claims, lambda: False)
    record_outcomes(conn, "test", outcome)
    return claims, outcome


def rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT r.model_name, s.model_name, s.model_version, s.probability IS NOT NULL, s.error"
        " FROM shadow_predictions s JOIN prediction_requests r ON r.id = s.request_id ORDER BY s.request_id"
    ).fetchall()


def test_a_row_the_challenger_cannot_score_fails_alone_and_the_answers_stay(conn: psycopg.Connection) -> None:
    registry = DefaultRegistry("random_forest_e04", "dummy")
    claims, outcome = answered_batch(conn, registry)
    results_before = conn.execute("SELECT * FROM prediction_results ORDER BY id").fetchall()
    challenger = FakeHandle("logistic", "v-shadow", poison="poison-for-shadow")
    scoring = ShadowScoring("test", Fixed(Shadow(model("logistic"), challenger)))
    scoring.refresh(conn)

    scoring.score(conn, registry, claims, outcome)

    got = rows(conn)
    assert [g[0] for g in got] == ["random_forest_e04"] * 7  # the dummy's requests are not shadowed
    assert sum(g[3] for g in got) == 6 and scoring.scored == 6 and scoring.failed == 1
    [failed] = [g for g in got if g[4] is not None]
    assert "poison-for-shadow" in failed[4] and failed[2] == "v-shadow"
    assert conn.execute("SELECT * FROM prediction_results ORDER BY id").fetchall() == results_before

    scoring.score(conn, registry, claims, outcome)  # a second writer of the same batch changes nothing
    assert rows(conn) == got


def test_a_challenger_that_could_not_be_loaded_leaves_error_rows(conn: psycopg.Connection) -> None:
    registry = DefaultRegistry("random_forest_e04", "dummy")
    claims, outcome = answered_batch(conn, registry)
    refused = Shadow(model("logistic"), None, "shadow logistic v-shadow cannot be loaded: sha256 mismatch")
    scoring = ShadowScoring("test", Fixed(refused))
    scoring.refresh(conn)
    scoring.score(conn, registry, claims, outcome)
    got = rows(conn)
    assert len(got) == 7 and all(g[4] == refused.error and not g[3] for g in got)
    statuses = conn.execute("SELECT DISTINCT status FROM prediction_requests").fetchall()
    assert statuses == [("completed",)]


def test_the_default_answering_as_its_own_shadow_is_not_compared_with_itself(
    conn: psycopg.Connection,
) -> None:
    registry = DefaultRegistry("random_forest_e04", "dummy")
    claims, outcome = answered_batch(conn, registry)
    itself = Shadow(
        model("random_forest_e04", "v-test"), FakeHandle("random_forest_e04")
    )  # a promoted shadow
    scoring = ShadowScoring("test", Fixed(itself))
    scoring.refresh(conn)
    scoring.score(conn, registry, claims, outcome)
    assert rows(conn) == []
