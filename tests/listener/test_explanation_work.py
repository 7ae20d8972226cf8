"""The listener's explanation chores in process, on a real database and the real models: what it refuses
to explain says why (and is logged once), what the database refuses fails instead of looping, and an
explanation at answer time that cannot be made is logged without failing anything."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from listener.claims import claim_pending, record_outcomes
from listener.explanations import ExplainerSource, ExplanationWork, loading_source
from listener.inference import infer_batch
from listener.outcomes import BatchOutcome, Claim
from model_store.explain import ExplanationUnavailable
from model_store.registry import ModelRegistry
from tests.listener.helpers import submit, valid_features

LISTENER = "test:1:0"


def answer(
    conn: psycopg.Connection, registry: ModelRegistry, n: int, model: str = "logistic"
) -> tuple[list[int], list[Claim], BatchOutcome]:
    """Submit n requests and answer them as the listener does (claim, infer, record)."""
    ids = submit(conn, n, model, valid_features(3))
    claims = claim_pending(conn, LISTENER, 100, 30.0)
    outcome = infer_batch(registry, claims, lambda: False)
    record_outcomes(conn, LISTENER, outcome)
    assert outcome.result_ids == ids, outcome.errors
    return ids, claims, outcome


def work(source: ExplainerSource, **options: Any) -> ExplanationWork:
    return ExplanationWork(
        LISTENER, source, lease_seconds=30.0, max_attempts=3, sweep_seconds=60.0, **options
    )


def ask(conn: psycopg.Connection, ids: list[int]) -> None:
    conn.execute("INSERT INTO explanation_requests (request_id) SELECT unnest(%s::bigint[])", [ids])


def asked(conn: psycopg.Connection) -> dict[int, tuple[str, str | None]]:
    rows = conn.execute("SELECT request_id, status, error FROM explanation_requests").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def explained(conn: psycopg.Connection) -> set[int]:
    return {r[0] for r in conn.execute("SELECT request_id FROM prediction_explanations").fetchall()}


def test_an_answer_the_version_no_longer_gives_is_refused_not_explained_as_another(
    models_db: str, trained_store: Path, conn: psycopg.Connection
) -> None:
    ids, _, _ = answer(conn, ModelRegistry(models_db, trained_store), 2)
    # The stored answer is not what this version computes for these features (edited in the database).
    conn.execute("UPDATE prediction_results SET probability = 0.5 WHERE request_id = %s", [ids[0]])
    ask(conn, ids)
    chores = work(loading_source(trained_store))
    assert chores.process_one_batch(conn)
    status = asked(conn)
    assert status[ids[1]] == ("completed", None)
    assert status[ids[0]][0] == "failed"
    error = status[ids[0]][1]
    assert "not the stored 0.5" in error and "refusing to explain another answer" in error
    assert explained(conn) == {ids[1]}
    assert chores.explained == 1


def test_a_version_whose_artifact_went_away_is_refused_for_each_request_and_logged_once(
    models_db: str,
    trained_store: Path,
    conn: psycopg.Connection,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = tmp_path / "store"
    shutil.copytree(trained_store, store, ignore=shutil.ignore_patterns("random_forest*"))
    ids, _, outcome = answer(conn, ModelRegistry(models_db, store), 2)
    (store / f"logistic-{outcome.model_versions[0]}.joblib").unlink()  # retired after answering
    chores = work(loading_source(store))
    with caplog.at_level(logging.WARNING, logger="listener"):
        for request_id in ids:  # asked one after the other: two batches
            ask(conn, [request_id])
            assert chores.process_one_batch(conn)
    status = asked(conn)
    for request_id in ids:
        assert status[request_id][0] == "failed"
        assert f"version {outcome.model_versions[0]}" in status[request_id][1]
        assert "can no longer be loaded" in status[request_id][1]
        assert str(store) not in status[request_id][1], "no server path reaches clients"
    assert explained(conn) == set()
    warnings = [r for r in caplog.records if "cannot be explained" in r.getMessage()]
    assert len(warnings) == 1, "once per version, not once per batch"
    assert not chores.process_one_batch(conn), "nothing left to claim: failed rows are not retried"


@dataclasses.dataclass
class RenamedMethod:
    """A real explainer whose explanations claim a method this schema does not know (a newer listener
    against an older database): the database's CHECK refuses the insert."""

    explainer: Any

    def explain(self, rows: Any) -> list[Any]:
        return [dataclasses.replace(e, method="counterfactual") for e in self.explainer.explain(rows)]


def test_explanations_the_database_refuses_fail_with_its_reason_instead_of_looping(
    models_db: str, trained_store: Path, conn: psycopg.Connection
) -> None:
    ids, _, _ = answer(conn, ModelRegistry(models_db, trained_store), 3)
    ask(conn, ids)
    real = loading_source(trained_store)
    chores = work(lambda c, name, version, sha256: RenamedMethod(real(c, name, version, sha256)))
    assert chores.process_one_batch(conn)
    for status, error in asked(conn).values():
        assert status == "failed"
        assert "could not record it" in error and "check" in error.lower()
    assert explained(conn) == set()
    assert not chores.process_one_batch(conn)


def test_an_explanation_at_answer_that_cannot_be_made_is_logged_and_fails_nothing(
    models_db: str, trained_store: Path, conn: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    registry = ModelRegistry(models_db, trained_store)

    def refusing(c: psycopg.Connection, name: str, version: str, sha256: str) -> Any:
        raise ExplanationUnavailable(f"no exact explanation is implemented for {name}")

    chores = work(refusing, at_answer=frozenset({"logistic"}))
    ids, claims, outcome = answer(conn, registry, 3)
    with caplog.at_level(logging.WARNING, logger="listener"):
        chores.explain_answers(conn, claims, outcome)
    assert explained(conn) == set() and asked(conn) == {}
    assert any("no exact explanation is implemented for logistic" in r.getMessage() for r in caplog.records)
    # The predictions themselves stay answered.
    done = conn.execute(
        "SELECT count(*) FROM prediction_requests WHERE status = 'completed' AND id = ANY(%s)", [ids]
    ).fetchone()
    assert done == (3,)


def test_explain_at_answer_leaves_the_other_models_answers_alone(
    models_db: str, trained_store: Path, conn: psycopg.Connection
) -> None:
    registry = ModelRegistry(models_db, trained_store)
    chores = work(loading_source(trained_store), at_answer=frozenset({"logistic"}))
    _, claims, outcome = answer(conn, registry, 2, "dummy")
    chores.explain_answers(conn, claims, outcome)
    assert explained(conn) == set()
    logistic_ids, claims, outcome = answer(conn, registry, 2, "logistic")
    chores.explain_answers(conn, claims, outcome)
    assert explained(conn) == set(logistic_ids)
    assert chores.explained == 2
