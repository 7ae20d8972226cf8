"""The listener_heartbeats row of one worker: who is alive, and how much it did."""

from __future__ import annotations

import os
import socket

import psycopg

from sql.named_queries import QUERIES


class Heartbeat:
    """Running totals of one worker, written to its row periodically while busy (not per batch), and
    as soon as it goes idle: a drained queue must not show stale totals until the next beat."""

    def __init__(self, listener_id: str, mode: str) -> None:
        self.listener_id = listener_id
        self.mode = mode
        self.processed = 0
        self.failed = 0
        self._written = (0, 0)

    def count(self, completed: int, failed: int) -> None:
        self.processed += completed
        self.failed += failed

    def _totals(self) -> tuple[int, int]:
        return (self.processed, self.failed)

    def _params(self) -> dict[str, object]:
        return {
            "listener_id": self.listener_id,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "mode": self.mode,
            "processed": self.processed,
            "failed": self.failed,
        }

    def register(self, conn: psycopg.Connection) -> None:
        conn.execute(QUERIES["register_listener"], self._params())
        self._written = self._totals()

    def beat(self, conn: psycopg.Connection) -> None:
        conn.execute(QUERIES["beat_listener"], self._params())
        self._written = self._totals()

    def unwritten(self) -> bool:
        """Whether the totals moved since they were last written."""
        return self._totals() != self._written

    def beat_if_changed(self, conn: psycopg.Connection) -> None:
        """Write the totals now if they moved since the last write (the listener has just gone idle)."""
        if self._totals() != self._written:
            self.beat(conn)

    def stopped(self, conn: psycopg.Connection) -> None:
        conn.execute(QUERIES["stop_listener"], self._params())
        self._written = self._totals()
