"""Shadow scoring in the listener: after a batch's answers are committed, score the requests the default
model answered with every shadow challenger, vectorised, and store those answers apart. Nothing here can
delay or fail a client's answer: it runs after the commit, and a shadow that errors leaves error rows.

The shadow rows of a batch are one statement in one transaction that commits asynchronously (no wait for
the WAL flush). What that transaction can lose (a listener killed between the answer's commit and the
shadow's, a server crash before the flush, an erasure holding the shadow lock) the catch-up finds: on each
lease sweep it scans the default model's requests since the shadow started, a bounded slice at a time,
and scores the answered ones that lack a row of the challenger."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg

from listener.connection import CONNECTION_LOST
from listener.inference import ModelRegistry, describe, predict
from listener.outcomes import BatchOutcome, Claim, float_array, int_array, text_array
from sql.named_queries import QUERIES, class_rows

log = logging.getLogger("listener")

# Requests answered this recently may still be getting their shadow rows from the listener that answered
# them: the catch-up leaves them to the next sweep.
CATCH_UP_GRACE_SECONDS = 5.0
# Requests looked at per shadow and sweep (an index range; a probe of the shadow key for each answered one).
CATCH_UP_SCAN_ROWS = 20_000
# Requests scored per shadow and sweep: one vectorised predict, done in the listener's loop.
CATCH_UP_SCORE_ROWS = 2_000


class ShadowSource(Protocol):
    """What the listener uses of `model_store.shadows.ShadowModels`."""

    def refresh(self, conn: psycopg.Connection) -> Sequence[Any]: ...


@dataclass
class ShadowRows:
    """Shadow rows of any challengers, as the parallel arrays record_shadow_rows unnests."""

    request_ids: list[int] = field(default_factory=list)
    model_names: list[str] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    model_sha256s: list[str | None] = field(default_factory=list)
    predictions: list[int | None] = field(default_factory=list)
    probabilities: list[float | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.request_ids)

    def add_answers(
        self,
        model: Any,
        sha256: str,
        ids: Sequence[int],
        classes: Sequence[int],
        probabilities: Sequence[float],
    ) -> None:
        n = len(ids)
        self.request_ids.extend(ids)
        self.model_names.extend([model.name] * n)
        self.model_versions.extend([model.version] * n)
        self.model_sha256s.extend([sha256] * n)
        self.predictions.extend(classes)
        self.probabilities.extend(probabilities)
        self.errors.extend([None] * n)

    def add_errors(self, model: Any, ids: Sequence[int], error: str) -> None:
        n = len(ids)
        self.request_ids.extend(ids)
        self.model_names.extend([model.name] * n)
        self.model_versions.extend([model.version] * n)
        self.model_sha256s.extend([None] * n)
        self.predictions.extend([None] * n)
        self.probabilities.extend([None] * n)
        self.errors.extend([error] * n)

    def params(self) -> dict[str, Any]:
        # Array literals built in one join each where the elements are never null (the common case:
        # every challenger answered), as for the answers (listener/outcomes.py); lists otherwise.
        answered = all(e is None for e in self.errors)
        return {
            "request_ids": int_array(self.request_ids),
            "model_names": text_array(self.model_names),
            "model_versions": text_array(self.model_versions),
            "model_sha256s": text_array(self.model_sha256s) if answered else self.model_sha256s,  # type: ignore[arg-type]
            "predictions": int_array(self.predictions) if answered else self.predictions,  # type: ignore[arg-type]
            "probabilities": float_array(self.probabilities) if answered else self.probabilities,  # type: ignore[arg-type]
            "errors": self.errors,
        }


def write_shadow_rows(conn: psycopg.Connection, rows: ShadowRows, *, again: bool = False) -> bool:
    """Write `rows` in one transaction that commits asynchronously, in one round trip (a pipeline).
    False when an erasure held the shadow lock past the lock timeout (nothing written: the catch-up will).
    A row already written raises UniqueViolation unless `again` (which skips such rows)."""
    query = QUERIES["record_shadow_rows_again" if again else "record_shadow_rows"]
    try:
        with conn.pipeline(), conn.transaction():
            conn.execute(QUERIES["begin_shadow_write"])
            conn.execute(QUERIES["lock_shadow_writes"])
            conn.execute(query, rows.params())
    except psycopg.errors.LockNotAvailable:
        return False
    return True


@dataclass(frozen=True)
class CatchUpStart:
    started_at: datetime
    after_id: int


@dataclass(frozen=True)
class CatchUpSlice:
    scanned_through: int | None
    first_unsettled: int | None
    ids: list[int]
    features: list[dict[str, Any]]


CATCH_UP_START = class_rows("shadow_catch_up_start", CatchUpStart)
CATCH_UP = class_rows("shadow_catch_up", CatchUpSlice)


@dataclass
class CatchUp:
    """Where one shadow's catch-up stands in this listener: requests up to `after_id` are settled."""

    started_at: datetime
    after_id: int


class ShadowScoring:
    """The listener's shadows: reloaded on model_promoted, scored after each recorded batch, caught up on
    each lease sweep."""

    def __init__(self, listener_id: str, source: ShadowSource | None) -> None:
        self.listener_id = listener_id
        self.source = source
        self.shadows: Sequence[Any] = ()
        self.scored = 0
        self.failed = 0
        self.caught_up = 0
        self._warned: set[tuple[str, str]] = set()
        self._catch_up: dict[tuple[str, str], CatchUp] = {}
        self._catch_up_backend: int | None = None

    def refresh(self, conn: psycopg.Connection) -> None:
        """Reread which versions run in the shadow (a failure keeps the ones held). A shadow's catch-up
        starts again from the shadow's start when the shadows change."""
        if self.source is None:
            return
        held = {(s.model.name, s.model.version) for s in self.shadows}
        try:
            self.shadows = self.source.refresh(conn)
        except CONNECTION_LOST:
            raise
        except Exception as exc:  # e.g. schema 012 not applied yet: no shadows, serve anyway
            log.warning("listener %s could not read its shadows: %s", self.listener_id, describe(exc))
        if {(s.model.name, s.model.version) for s in self.shadows} != held:
            self._catch_up.clear()

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
            if len(rows) == 0:
                return
            try:
                written = write_shadow_rows(conn, rows)
            except psycopg.errors.UniqueViolation:
                # Some were written already (a catch-up went first, or this batch's lease had expired and
                # another listener answered it again): write the rest.
                written = write_shadow_rows(conn, rows, again=True)
            if not written:
                log.info(
                    "listener %s: an erasure holds the shadow lock; %d shadow row(s) left to the catch-up",
                    self.listener_id,
                    len(rows),
                )
        except CONNECTION_LOST:
            raise
        except Exception:  # a bug or a refused statement: the answers are already committed
            log.exception("listener %s could not score a batch in the shadow", self.listener_id)

    def catch_up(self, conn: psycopg.Connection, registry: ModelRegistry) -> int:
        """Score, for each shadow, answered requests of the default since the shadow started that have no
        row of it (a slice per call); returns how many rows were written."""
        if not self.shadows:
            return 0
        if conn.info.backend_pid != self._catch_up_backend:
            # A new connection (a reconnect; the server may have restarted and lost asynchronous commits):
            # every shadow's catch-up starts again from its start.
            self._catch_up.clear()
            self._catch_up_backend = conn.info.backend_pid
        written = 0
        try:
            default = registry.default_name()
            for shadow in self.shadows:
                written += self._catch_up_one(conn, default, shadow)
        except CONNECTION_LOST:
            raise
        except Exception:  # the next sweep tries again
            log.exception("listener %s could not catch up its shadows", self.listener_id)
        if written:
            self.caught_up += written
            log.info("listener %s: caught up %d missing shadow row(s)", self.listener_id, written)
        return written

    def _catch_up_one(self, conn: psycopg.Connection, default: str, shadow: Any) -> int:
        model = shadow.model
        key = (model.name, model.version)
        state = self._catch_up.get(key)
        if state is None:
            with conn.cursor(row_factory=CATCH_UP_START) as cur:
                start = cur.execute(
                    QUERIES["shadow_catch_up_start"],
                    {"model_name": model.name, "model_version": model.version},
                ).fetchone()
            if start is None:
                return 0  # stopped since the last refresh
            state = self._catch_up[key] = CatchUp(start.started_at, start.after_id)
        with conn.cursor(row_factory=CATCH_UP) as cur:
            found = cur.execute(
                QUERIES["shadow_catch_up"],
                {
                    "default_model": default,
                    "model_name": model.name,
                    "model_version": model.version,
                    "started_at": state.started_at,
                    "after_id": state.after_id,
                    "grace_seconds": CATCH_UP_GRACE_SECONDS,
                    "limit": CATCH_UP_SCAN_ROWS,
                },
            ).fetchone()
        assert found is not None
        # The next slice starts before the first request not settled yet, and before the first missing one
        # not scored in this call.
        through = found.scanned_through if found.scanned_through is not None else state.after_id
        if found.first_unsettled is not None:
            through = min(through, found.first_unsettled - 1)
        ids, features = found.ids, found.features
        if len(ids) > CATCH_UP_SCORE_ROWS:
            through = min(through, ids[CATCH_UP_SCORE_ROWS] - 1)
            ids, features = ids[:CATCH_UP_SCORE_ROWS], features[:CATCH_UP_SCORE_ROWS]
        if ids:
            rows = ShadowRows()
            claims = [Claim(i, default, f) for i, f in zip(ids, features, strict=True)]
            self._score_shadow(shadow, claims, rows)
            if not write_shadow_rows(conn, rows, again=True):
                return 0  # an erasure holds the lock: this slice again at the next sweep
        state.after_id = max(state.after_id, through)
        return len(ids)

    def _predict(self, registry: ModelRegistry, claims: Sequence[Claim], outcome: BatchOutcome) -> ShadowRows:
        rows = ShadowRows()
        default = registry.default_name()
        by_id = {c.id: c for c in claims}
        answered = [
            (request_id, outcome.model_versions[i])
            for i, request_id in enumerate(outcome.result_ids)
            if by_id[request_id].model_name == default
        ]
        if not answered:
            return rows
        for shadow in self.shadows:
            model = shadow.model
            # A promoted challenger still listed as a shadow is the answer itself: nothing to compare.
            group = [
                by_id[request_id]
                for request_id, version in answered
                if (model.name, model.version) != (default, version)
            ]
            if group:
                self._score_shadow(shadow, group, rows)
        return rows

    def _score_shadow(self, shadow: Any, group: list[Claim], rows: ShadowRows) -> None:
        if shadow.handle is None:
            self._warn_once(shadow.model, shadow.error)
            rows.add_errors(shadow.model, [c.id for c in group], shadow.error or "shadow not loaded")
            self.failed += len(group)
            return
        self._score_isolating_failures(shadow, group, rows)

    def _score_isolating_failures(self, shadow: Any, group: list[Claim], rows: ShadowRows) -> None:
        """One vectorised predict; if it raises, halves down to the rows at fault (as for the answers)."""
        model = shadow.model
        try:
            classes, probabilities = predict(shadow.handle, group)
        except CONNECTION_LOST:
            raise
        except Exception as exc:
            if len(group) > 1:
                middle = len(group) // 2
                self._score_isolating_failures(shadow, group[:middle], rows)
                self._score_isolating_failures(shadow, group[middle:], rows)
                return
            error = f"shadow {model.name} {model.version} failed: {describe(exc)}"
            self._warn_once(model, error)
            self.failed += 1
            rows.add_errors(model, [group[0].id], error)
            return
        self.scored += len(group)
        rows.add_answers(model, shadow.handle.sha256, [c.id for c in group], classes, probabilities)

    def _warn_once(self, model: Any, error: str | None) -> None:
        key = (model.name, model.version)
        if key not in self._warned:
            self._warned.add(key)
            log.warning("listener %s: %s; its shadow rows record the error", self.listener_id, error)
