"""Shadow scoring in the listener: after a batch's answers are committed, score the requests the default
model answered with every shadow challenger, vectorised, and store those answers apart. Nothing here can
delay or fail a client's answer: it runs after the commit, and a shadow that errors leaves error rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from listener.connection import CONNECTION_LOST
from listener.inference import ModelRegistry, describe, predict
from listener.outcomes import BatchOutcome, Claim
from sql.named_queries import QUERIES

log = logging.getLogger("listener")


class ShadowSource(Protocol):
    """What the listener uses of `model_store.shadows.ShadowModels`."""

    def refresh(self, conn: psycopg.Connection) -> Sequence[Any]: ...


@dataclass(frozen=True)
class ShadowBatch:
    """One challenger's answers (or its error) for some requests: what one statement records."""

    model_name: str
    model_version: str
    request_ids: list[int]
    model_sha256: str | None = None
    predictions: list[int] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    error: str | None = None

    def record(self, conn: psycopg.Connection) -> None:
        if self.error is None:
            query, params = QUERIES["record_shadow_answers"], self.__dict__.copy()
            del params["error"]
        else:
            query = QUERIES["record_shadow_errors"]
            params = {k: getattr(self, k) for k in ("model_name", "model_version", "request_ids", "error")}
        # Binary parameters: the arrays go over the wire as they are, not formatted as text.
        with conn.cursor(binary=True) as cur:
            cur.execute(query, params)


class ShadowScoring:
    """The listener's shadows: reloaded on model_promoted, scored after each recorded batch."""

    def __init__(self, listener_id: str, source: ShadowSource | None) -> None:
        self.listener_id = listener_id
        self.source = source
        self.shadows: Sequence[Any] = ()
        self.scored = 0
        self.failed = 0
        self._warned: set[tuple[str, str]] = set()

    def refresh(self, conn: psycopg.Connection) -> None:
        """Reread which versions run in the shadow (a failure keeps the ones held)."""
        if self.source is None:
            return
        try:
            self.shadows = self.source.refresh(conn)
        except CONNECTION_LOST:
            raise
        except Exception as exc:  # e.g. schema 012 not applied yet: no shadows, serve anyway
            log.warning("listener %s could not read its shadows: %s", self.listener_id, describe(exc))

    def score(
        self,
        conn: psycopg.Connection,
        registry: ModelRegistry,
        claims: Sequence[Claim],
        outcome: BatchOutcome,
    ) -> None:
        """Score the answered requests of the default model with each shadow and record them."""
        if not self.shadows or not outcome.result_ids:
            return
        try:
            for batch in self._predict(registry, claims, outcome):
                batch.record(conn)
        except CONNECTION_LOST:
            raise
        except Exception:  # a bug or a refused statement: the answers are already committed
            log.exception("listener %s could not score a batch in the shadow", self.listener_id)

    def _predict(
        self, registry: ModelRegistry, claims: Sequence[Claim], outcome: BatchOutcome
    ) -> list[ShadowBatch]:
        default = registry.default_name()
        by_id = {c.id: c for c in claims}
        answered = [
            (request_id, outcome.model_versions[i])
            for i, request_id in enumerate(outcome.result_ids)
            if by_id[request_id].model_name == default
        ]
        batches: list[ShadowBatch] = []
        if not answered:
            return batches
        for shadow in self.shadows:
            model = shadow.model
            # A promoted challenger still listed as a shadow is the answer itself: nothing to compare.
            ids = [
                request_id
                for request_id, version in answered
                if (model.name, model.version) != (default, version)
            ]
            if not ids:
                continue
            if shadow.handle is None:
                self._warn_once(model, shadow.error)
                error = shadow.error or "shadow not loaded"
                batches.append(ShadowBatch(model.name, model.version, ids, error=error))
                self.failed += len(ids)
                continue
            batches.extend(self._score_isolating_failures(shadow, [by_id[i] for i in ids]))
        return batches

    def _score_isolating_failures(self, shadow: Any, group: list[Claim]) -> list[ShadowBatch]:
        """One vectorised predict; if it raises, halves down to the rows at fault (as for the answers)."""
        model = shadow.model
        try:
            classes, probabilities = predict(shadow.handle, group)
        except CONNECTION_LOST:
            raise
        except Exception as exc:
            if len(group) > 1:
                middle = len(group) // 2
                return [
                    *self._score_isolating_failures(shadow, group[:middle]),
                    *self._score_isolating_failures(shadow, group[middle:]),
                ]
            error = f"shadow {model.name} {model.version} failed: {describe(exc)}"
            self._warn_once(model, error)
            self.failed += 1
            return [ShadowBatch(model.name, model.version, [group[0].id], error=error)]
        self.scored += len(group)
        ids = [c.id for c in group]
        return [ShadowBatch(model.name, model.version, ids, shadow.handle.sha256, classes, probabilities)]

    def _warn_once(self, model: Any, error: str | None) -> None:
        key = (model.name, model.version)
        if key not in self._warned:
            self._warned.add(key)
            log.warning("listener %s: %s; its shadow rows record the error", self.listener_id, error)
