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
from sql.queries import QUERIES

log = logging.getLogger("listener")


class ShadowSource(Protocol):
    """What the listener uses of `model_store.shadows.ShadowModels`."""

    def refresh(self, conn: psycopg.Connection) -> Sequence[Any]: ...


@dataclass
class ShadowRows:
    """The parallel arrays `record_shadow_predictions` unnests."""

    request_ids: list[int] = field(default_factory=list)
    model_names: list[str] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    model_sha256s: list[str | None] = field(default_factory=list)
    predictions: list[int | None] = field(default_factory=list)
    probabilities: list[float | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

    def add(
        self, ids: Sequence[int], name: str, version: str, sha256: str, classes: list[int], probs: list[float]
    ) -> None:
        n = len(ids)
        self.request_ids.extend(ids)
        self.model_names.extend([name] * n)
        self.model_versions.extend([version] * n)
        self.model_sha256s.extend([sha256] * n)
        self.predictions.extend(classes)
        self.probabilities.extend(probs)
        self.errors.extend([None] * n)

    def fail(self, ids: Sequence[int], name: str, version: str, error: str) -> None:
        n = len(ids)
        self.request_ids.extend(ids)
        self.model_names.extend([name] * n)
        self.model_versions.extend([version] * n)
        self.model_sha256s.extend([None] * n)
        self.predictions.extend([None] * n)
        self.probabilities.extend([None] * n)
        self.errors.extend([error] * n)

    def __len__(self) -> int:
        return len(self.request_ids)

    def params(self) -> dict[str, Any]:
        return dict(self.__dict__)


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
            rows = self._predict(registry, claims, outcome)
            if len(rows):
                conn.execute(QUERIES["record_shadow_predictions"], rows.params())
        except CONNECTION_LOST:
            raise
        except Exception:  # a bug or a refused statement: the answers are already committed
            log.exception("listener %s could not score a batch in the shadow", self.listener_id)

    def _predict(self, registry: ModelRegistry, claims: Sequence[Claim], outcome: BatchOutcome) -> ShadowRows:
        default = registry.default_name()
        by_id = {c.id: c for c in claims}
        answered = [
            (request_id, outcome.model_versions[i])
            for i, request_id in enumerate(outcome.result_ids)
            if by_id[request_id].model_name == default
        ]
        rows = ShadowRows()
        if not answered:
            return rows
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
                rows.fail(ids, model.name, model.version, shadow.error or "shadow not loaded")
                self.failed += len(ids)
                continue
            try:
                classes, probabilities = predict(shadow.handle, [by_id[i] for i in ids])
            except CONNECTION_LOST:
                raise
            except Exception as exc:
                error = f"shadow {model.name} {model.version} failed: {describe(exc)}"
                self._warn_once(model, error)
                rows.fail(ids, model.name, model.version, error)
                self.failed += len(ids)
                continue
            rows.add(ids, model.name, model.version, shadow.handle.sha256, classes, probabilities)
            self.scored += len(ids)
        return rows

    def _warn_once(self, model: Any, error: str | None) -> None:
        key = (model.name, model.version)
        if key not in self._warned:
            self._warned.add(key)
            log.warning("listener %s: %s; its shadow rows record the error", self.listener_id, error)
