"""Explanations in the listener: claim the asked ones, compute each with the model version that answered
its request, and record them; optionally explain the answers of chosen models as they are written."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import psycopg

from listener.config import ListenerConfig
from listener.connection import CONNECTION_LOST
from listener.inference import describe
from listener.outcomes import BatchOutcome, Claim
from listener.timers import Every
from sql.named_queries import QUERIES, class_rows

log = logging.getLogger("listener")

# A forest's exact explanation costs milliseconds per row: small batches keep predictions flowing.
BATCH_SIZE = 32
# The explanation must be of the answer given: its recomputed probability must match the stored one.
SAME_ANSWER_TOLERANCE = 1e-6


class Explanation(Protocol):
    method: str
    scale: str
    base_value: float
    output: float
    probability: float

    def contributions_json(self) -> list[dict[str, Any]]: ...


class Explainer(Protocol):
    def explain(self, rows: Sequence[dict[str, Any]]) -> Sequence[Explanation]: ...


# (connection, model name, version, sha256) -> the explainer of exactly that version.
ExplainerSource = Callable[[psycopg.Connection, str, str, str], Explainer]


@dataclass(frozen=True, slots=True)
class ExplanationClaim:
    """A claimed explanation request: the prediction to explain, and what answered it (None: failed)."""

    id: int  # prediction_requests.id
    request_id: Any
    model_name: str
    features: dict[str, Any]
    model_version: str | None
    model_sha256: str | None
    probability: float | None
    request_error: str | None


@dataclass(frozen=True, slots=True)
class Recorded:
    written: int
    failed: int


@dataclass(frozen=True, slots=True)
class Swept:
    requeued: int
    failed: int


CLAIMS = class_rows("claim_explanations", ExplanationClaim)
RECORDED = class_rows("record_explanations", Recorded)
SWEPT = class_rows("sweep_expired_explanations", Swept)


@dataclass
class ExplanationBatch:
    """The parallel arrays `record_explanations` unnests."""

    request_ids: list[int] = field(default_factory=list)
    model_names: list[str] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    model_sha256s: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    scales: list[str] = field(default_factory=list)
    base_values: list[float] = field(default_factory=list)
    output_values: list[float] = field(default_factory=list)
    contributions: list[str] = field(default_factory=list)
    failed_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, request_id: int, model: tuple[str, str, str], explanation: Explanation) -> None:
        self.request_ids.append(request_id)
        self.model_names.append(model[0])
        self.model_versions.append(model[1])
        self.model_sha256s.append(model[2])
        self.methods.append(explanation.method)
        self.scales.append(explanation.scale)
        self.base_values.append(explanation.base_value)
        self.output_values.append(explanation.output)
        self.contributions.append(json.dumps(explanation.contributions_json()))

    def fail(self, request_ids: Sequence[int], error: str) -> None:
        self.failed_ids.extend(request_ids)
        self.errors.extend([error] * len(request_ids))

    def __len__(self) -> int:
        return len(self.request_ids) + len(self.failed_ids)

    def params(self) -> dict[str, Any]:
        return dict(self.__dict__)


def loading_source(store_dir: Path) -> ExplainerSource:
    """Explainers loaded by version from the model store (model_store.explain_loading), cached."""
    from model_store.explain_loading import ExplainerCache

    return ExplainerCache(store_dir).get


class ExplanationWork:
    """The listener's explanation chores, run on its work connection between prediction batches."""

    def __init__(
        self,
        listener_id: str,
        source: ExplainerSource,
        *,
        lease_seconds: float,
        max_attempts: int,
        sweep_seconds: float,
        at_answer: frozenset[str] = frozenset(),
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.listener_id = listener_id
        self.source = source
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.at_answer = at_answer
        self.batch_size = batch_size
        self._sweep = Every(sweep_seconds)
        self._refused: set[tuple[str, str, str]] = set()
        self.explained = 0

    @classmethod
    def for_config(cls, listener_id: str, config: ListenerConfig) -> ExplanationWork:
        """Explainers loaded from the settings' model store, leases and sweeps as the config says."""
        from sql.settings import get_settings

        settings = get_settings()
        return cls(
            listener_id,
            loading_source(settings.model_store_dir),
            lease_seconds=config.lease_seconds,
            max_attempts=config.max_attempts,
            sweep_seconds=config.sweep_seconds,
            at_answer=config.explain_at_answer,
        )

    def process_one_batch(self, conn: psycopg.Connection) -> bool:
        """Claim, compute and record one batch of asked explanations; False when none was claimable."""
        if self._sweep.due():
            self._sweep_leases(conn)
            self._sweep.done()
        with conn.cursor(row_factory=CLAIMS) as cur:
            claims = cur.execute(
                QUERIES["claim_explanations"],
                {
                    "listener_id": self.listener_id,
                    "batch_size": self.batch_size,
                    "lease_seconds": self.lease_seconds,
                },
            ).fetchall()
        if not claims:
            return False
        batch = ExplanationBatch()
        for claim in claims:
            if claim.model_version is None or claim.model_sha256 is None:
                batch.fail(
                    [claim.id],
                    f"the prediction failed, so there is no answer to explain: {claim.request_error}",
                )
        answered = [c for c in claims if c.model_version is not None]
        for model, group in group_by_version(answered).items():
            self._explain_group(conn, model, group, batch)
        self._record(conn, batch)
        return True

    def explain_answers(
        self, conn: psycopg.Connection, claims: Sequence[Claim], outcome: BatchOutcome
    ) -> None:
        """At answer time: explain the results just written for the models in `at_answer`."""
        if not self.at_answer or not outcome.result_ids:
            return
        by_id = {c.id: c for c in claims}
        groups: dict[tuple[str, str, str], list[ExplanationClaim]] = {}
        for i, request_id in enumerate(outcome.result_ids):
            claim = by_id[request_id]
            if claim.model_name not in self.at_answer:
                continue
            model = (claim.model_name, outcome.model_versions[i], outcome.model_sha256s[i])
            groups.setdefault(model, []).append(
                ExplanationClaim(
                    id=request_id,
                    request_id=None,
                    model_name=claim.model_name,
                    features=claim.features,
                    model_version=model[1],
                    model_sha256=model[2],
                    probability=outcome.probabilities[i],
                    request_error=None,
                )
            )
        batch = ExplanationBatch()
        for model, group in groups.items():
            self._explain_group(conn, model, group, batch)
        if batch.request_ids:
            # Failures are logged only: nobody asked, so there is no request row to fail.
            batch.failed_ids, batch.errors = [], []
            self._record(conn, batch)

    def _explain_group(
        self,
        conn: psycopg.Connection,
        model: tuple[str, str, str],
        group: list[ExplanationClaim],
        batch: ExplanationBatch,
    ) -> None:
        name, version, sha256 = model
        try:
            explainer = self.source(conn, name, version, sha256)
            explanations = explainer.explain([c.features for c in group])
        except CONNECTION_LOST:
            raise
        except Exception as exc:  # the version is gone, the artifact changed, a model kind not explained
            error = f"model {name} version {version} cannot be explained: {describe(exc)}"
            if model not in self._refused:  # once per version, not once per batch
                log.warning("listener %s: %s", self.listener_id, error)
            self._refused.add(model)
            batch.fail([c.id for c in group], error)
            return
        self._refused.discard(model)
        for claim, explanation in zip(group, explanations, strict=True):
            stored = claim.probability
            if stored is not None and not np.isclose(
                explanation.probability, stored, rtol=0, atol=SAME_ANSWER_TOLERANCE
            ):
                batch.fail(
                    [claim.id],
                    f"model {name} version {version} now answers {explanation.probability!r} for these "
                    f"features, not the stored {stored!r}: refusing to explain another answer",
                )
                continue
            batch.add(claim.id, model, explanation)

    def _record(self, conn: psycopg.Connection, batch: ExplanationBatch) -> None:
        try:
            row = _recorded(conn, batch)
        except CONNECTION_LOST:
            raise  # the claims' leases expire and the sweep hands them out again
        except psycopg.DatabaseError as exc:
            # Refused by the database (a bug, a constraint): fail the rows with why, never loop on them.
            log.exception("listener %s could not record explanations; failing them", self.listener_id)
            fallback = ExplanationBatch()
            fallback.fail(batch.request_ids + batch.failed_ids, f"could not record it: {describe(exc)}")
            row = _recorded(conn, fallback)
        self.explained += row.written

    def _sweep_leases(self, conn: psycopg.Connection) -> None:
        with conn.cursor(row_factory=SWEPT) as cur:
            row = cur.execute(
                QUERIES["sweep_expired_explanations"], {"max_attempts": self.max_attempts}
            ).fetchone()
        if row is not None and (row.requeued or row.failed):
            log.info(
                "listener %s: %d expired explanation lease(s) requeued, %d failed",
                self.listener_id,
                row.requeued,
                row.failed,
            )


def _recorded(conn: psycopg.Connection, batch: ExplanationBatch) -> Recorded:
    with conn.cursor(row_factory=RECORDED) as cur:
        row = cur.execute(QUERIES["record_explanations"], batch.params()).fetchone()
    assert row is not None
    return row


def group_by_version(
    claims: Sequence[ExplanationClaim],
) -> dict[tuple[str, str, str], list[ExplanationClaim]]:
    groups: dict[tuple[str, str, str], list[ExplanationClaim]] = {}
    for claim in claims:
        assert claim.model_version is not None and claim.model_sha256 is not None
        groups.setdefault((claim.model_name, claim.model_version, claim.model_sha256), []).append(claim)
    return groups
