"""Batch inference without a database: one predict per model group, and failures isolated to their rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
import pytest

from listener.inference import infer_batch
from listener.outcomes import Claim
from tests.listener.helpers import FakeHandle, FakeRegistry


def claims(n: int, model: str = "logistic", start: int = 1, poison_at: Sequence[int] = ()) -> list[Claim]:
    return [
        Claim(i, model, {"age": 30 + i % 40, "job_role": "poison" if i in poison_at else "Manager"})
        for i in range(start, start + n)
    ]


def never() -> bool:
    return False


def test_each_model_group_gets_one_vectorised_predict() -> None:
    registry = FakeRegistry("logistic", "dummy")
    batch = claims(300) + claims(200, "dummy", start=1000)
    outcome = infer_batch(registry, batch, never)
    assert registry.handles["logistic"].calls == [300]
    assert registry.handles["dummy"].calls == [200]
    assert len(outcome.result_ids) == 500 and not outcome.failed_ids
    assert set(outcome.model_versions) == {"v-test"} and set(outcome.model_sha256s) == {"ab" * 32}


def test_poison_rows_fail_with_their_reason_and_their_neighbours_complete() -> None:
    registry = FakeRegistry("logistic")
    outcome = infer_batch(registry, claims(512, poison_at=(17, 400)), never)
    assert sorted(outcome.failed_ids) == [17, 400]
    assert all("ValueError: cannot use value 'poison'" in e for e in outcome.errors)
    assert sorted(outcome.result_ids) == [i for i in range(1, 513) if i not in (17, 400)]
    # Bisection, not 512 single-row retries: two poison rows cost a few dozen predicts.
    assert len(registry.handles["logistic"].calls) < 50


def test_a_model_that_cannot_be_loaded_fails_only_its_group() -> None:
    outcome = infer_batch(FakeRegistry("logistic"), claims(3) + claims(2, "no_such_model", start=10), never)
    assert sorted(outcome.result_ids) == [1, 2, 3]
    assert sorted(outcome.failed_ids) == [10, 11]
    assert outcome.errors[0].startswith(
        "model 'no_such_model' could not be loaded: LookupError: unknown model"
    )


class NanForOneRow(FakeHandle):
    def predict(self, features: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        classes, probabilities = super().predict(features)
        probabilities[[f["age"] == 35 for f in features]] = np.nan
        return classes, probabilities


def test_an_impossible_probability_fails_that_row_not_the_database_write() -> None:
    registry = FakeRegistry("logistic")
    registry.handles["logistic"] = NanForOneRow("logistic")
    outcome = infer_batch(registry, claims(10), never)  # age 35 is claim 5
    assert outcome.failed_ids == [5] and "probability nan" in outcome.errors[0]
    assert len(outcome.result_ids) == 9 and all(0 <= p <= 1 for p in outcome.probabilities)


def test_groups_not_started_when_a_stop_is_requested_are_released() -> None:
    registry = FakeRegistry("logistic", "dummy")
    asked = iter([False, True])
    outcome = infer_batch(registry, claims(3) + claims(2, "dummy", start=10), lambda: next(asked))
    assert sorted(outcome.result_ids) == [1, 2, 3]
    assert outcome.released_ids == [10, 11] and registry.handles["dummy"].calls == []


class LostDatabase(FakeRegistry):
    def get(self, name: str | None) -> FakeHandle:
        raise psycopg.OperationalError("server closed the connection unexpectedly")


def test_losing_the_database_while_loading_a_model_is_not_a_request_failure() -> None:
    # The rows are fine; the loop reconnects and claims them again.
    with pytest.raises(psycopg.OperationalError):
        infer_batch(LostDatabase(), claims(3), never)


class DeploymentsUnreadable(FakeRegistry):
    """Like model_store's registry when the database drops while it reads model_deployments."""

    def get(self, name: str | None) -> FakeHandle:
        try:
            raise psycopg.OperationalError("connection refused")
        except psycopg.OperationalError as exc:
            raise RuntimeError("cannot read model deployments from the database") from exc


def test_a_registry_error_caused_by_a_lost_connection_is_not_a_request_failure() -> None:
    with pytest.raises(psycopg.OperationalError):
        infer_batch(DeploymentsUnreadable(), claims(3), never)
