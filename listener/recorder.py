"""A lease-mode batch's outcome written on a second connection while the next batch is claimed and inferred.

In a backlog worked under leases (backlog_claim = lease) each batch is already committed as claimed before
its inference, so nothing about its outcome depends on the next batch: the work connection claims batch
N+1 and the model infers it while this recorder's thread writes batch N's outcome (`record_outcomes`,
the same statement as in the foreground). PostgreSQL's work for N and the listener's work for N+1 then
run at the same time on a 2-core machine instead of one after the other. One batch at most is in flight:
the listener takes its result (`take`) before it hands over the next, so leases, exactly one result per
request (the statement's own guarantees) and the order of the post-commit work are as in the foreground.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg

from listener.claims import Recorded, record_outcomes
from listener.connection import close_quietly, connect
from listener.outcomes import BatchOutcome, Claim


@dataclass
class Taken:
    """A batch handed to the recorder, with what recording it gave: its counts, or the error it raised."""

    claims: list[Claim]
    outcome: BatchOutcome
    recorded: Recorded | None
    error: BaseException | None


class BackgroundRecorder:
    """One thread and one connection (opened on first use, so a listener that never sees a backlog holds
    two connections, not three)."""

    def __init__(self, database_url: str, listener_id: str) -> None:
        self._database_url = database_url
        self._listener_id = listener_id
        self._conn: psycopg.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight: tuple[list[Claim], BatchOutcome, Future[Recorded]] | None = None

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    def submit(self, claims: list[Claim], outcome: BatchOutcome) -> None:
        """Start writing `outcome`; the caller has taken the previous one. A failure to connect raises
        here (CONNECTION_LOST), before anything is in flight."""
        assert self._in_flight is None, "take() the batch in flight first"
        if self._conn is None or self._conn.closed:
            # Named as the work connection: to a DBA (and pg_stat_activity) both are the listener's work.
            self._conn = connect(self._database_url, f"listener {self._listener_id}")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="listener-recorder")
        future = self._executor.submit(record_outcomes, self._conn, self._listener_id, outcome)
        self._in_flight = (claims, outcome, future)

    def take(self) -> Taken | None:
        """Wait for the batch in flight (None if there is none) and hand it back with its result."""
        if self._in_flight is None:
            return None
        claims, outcome, future = self._in_flight
        self._in_flight = None
        try:
            return Taken(claims, outcome, future.result(), None)
        except Exception as exc:  # handed to the listener, which decides (reconnect, fail the rows)
            if self._conn is not None and self._conn.broken:
                self._drop_connection()
            return Taken(claims, outcome, None, exc)

    def close(self) -> Taken | None:
        """Wait for the batch in flight, close the connection and the thread; returns the batch."""
        taken = self.take()
        self._drop_connection()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        return taken

    def _drop_connection(self) -> None:
        close_quietly(self._conn)
        self._conn = None
