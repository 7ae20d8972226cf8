"""The listener_heartbeats row of one worker: who is alive, and how much it did."""

from __future__ import annotations

import os
import socket

import psycopg

from sql.queries import QUERIES


class Heartbeat:
    """Running totals of one worker, written to its row periodically (not per batch)."""

    def __init__(self, listener_id: str, mode: str) -> None:
        self.listener_id = listener_id
        self.mode = mode
        self.processed = 0
        self.failed = 0

    def count(self, completed: int, failed: int) -> None:
        self.processed += completed
        self.failed += failed

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

    def beat(self, conn: psycopg.Connection) -> None:
        conn.execute(QUERIES["beat_listener"], self._params())

    def stopped(self, conn: psycopg.Connection) -> None:
        conn.execute(QUERIES["stop_listener"], self._params())
