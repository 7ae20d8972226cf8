"""This listener's view of the deployed models, published to model_availability when it changes, so the
API can tell clients which models answer. Refused models are retried here too (the registry backs off)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg

from sql.named_queries import QUERIES


class ModelState(Protocol):
    """What is used of `model_store.registry.ModelState`."""

    name: str
    version: str
    available: bool | None
    error: str | None
    retry_in: float | None


class Availability:
    """Writes the rows of one listener; a state already written is not written again."""

    def __init__(self, listener_id: str) -> None:
        self.listener_id = listener_id
        self._published: list[tuple[Any, ...]] | None = None

    def forget(self) -> None:
        """Write on the next publish even if nothing changed (after a reconnect, the rows may be gone)."""
        self._published = None

    def publish(self, conn: psycopg.Connection, states: list[ModelState]) -> bool:
        """Write `states` (models not tried yet are left out) if they changed; True when written."""
        tried = [s for s in states if s.available is not None]
        key = [(s.name, s.version, s.available, s.error) for s in tried]
        if key == self._published:
            return False
        now = datetime.now(UTC)
        conn.execute(
            QUERIES["publish_model_availability"],
            {
                "listener_id": self.listener_id,
                "model_names": [s.name for s in tried],
                "model_versions": [s.version for s in tried],
                "available": [bool(s.available) for s in tried],
                "errors": [None if s.available else s.error for s in tried],
                "next_retry_at": [
                    None if s.available or s.retry_in is None else now + timedelta(seconds=s.retry_in)
                    for s in tried
                ],
            },
        )
        self._published = key
        return True
