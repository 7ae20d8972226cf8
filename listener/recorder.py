"""A lease-mode batch's outcome written on its own connection while the next batches are claimed and inferred.

In a backlog worked under leases (backlog_claim = lease) each batch is already committed as claimed before
its inference, so nothing about its outcome depends on the next batch: the work connection claims batch
N+1 and the model infers it while a recorder thread writes batch N's outcome (`record_outcomes`, the same
statement as in the foreground). PostgreSQL's work for N and the listener's work for N+1 then run at the
same time on a 2-core machine instead of one after the other. Up to `writers` batches are in flight, each
on its own connection (LISTENER_RECORD_WRITERS): a batch's write waits for its commit's WAL flush and its
notifications as much as for CPU, and a second write in flight fills that wait. The batches in flight are
disjoint sets of rows, each held under this listener's lease, so two writes never wait for each other's
row locks. The listener takes the results oldest first (`take`), and takes them all before it does
anything else (a short claim, a chore, a stop, a reconnect), so leases, exactly one result per request
(the statement's own guarantees) and the order of the post-commit work are as in the foreground.
"""

from __future__ import annotations

from collections import deque
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


@dataclass
class _InFlight:
    claims: list[Claim]
    outcome: BatchOutcome
    future: Future[Recorded]
    writer: int


class BackgroundRecorder:
    """`writers` threads, each with its own connection (opened on first use, so a listener that never sees
    a backlog holds two connections, not two plus `writers`)."""

    def __init__(self, database_url: str, listener_id: str, writers: int = 1) -> None:
        if writers < 1:
            raise ValueError(f"writers must be >= 1, got {writers}")
        self._database_url = database_url
        self._listener_id = listener_id
        self.writers = writers
        self._conns: list[psycopg.Connection | None] = [None] * writers
        self._executors: list[ThreadPoolExecutor | None] = [None] * writers
        self._in_flight: deque[_InFlight] = deque()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def full(self) -> bool:
        """Every writer has a batch in flight: take() one before the next submit()."""
        return len(self._in_flight) >= self.writers

    def submit(self, claims: list[Claim], outcome: BatchOutcome) -> None:
        """Start writing `outcome` on a free writer; the caller has taken enough (not `full`). A failure
        to connect raises here (CONNECTION_LOST), before this batch is in flight."""
        assert not self.full, "take() a batch in flight first"
        busy = {f.writer for f in self._in_flight}
        writer = next(i for i in range(self.writers) if i not in busy)
        conn = self._conns[writer]
        if conn is None or conn.closed:
            # Named as the work connection: to a DBA (and pg_stat_activity) all are the listener's work.
            conn = self._conns[writer] = connect(self._database_url, f"listener {self._listener_id}")
        executor = self._executors[writer]
        if executor is None:
            executor = self._executors[writer] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"listener-recorder-{writer}"
            )
        future = executor.submit(record_outcomes, conn, self._listener_id, outcome)
        self._in_flight.append(_InFlight(claims, outcome, future, writer))

    def take(self) -> Taken | None:
        """Wait for the oldest batch in flight (None if there is none) and hand it back with its result."""
        if not self._in_flight:
            return None
        flight = self._in_flight.popleft()
        try:
            return Taken(flight.claims, flight.outcome, flight.future.result(), None)
        except Exception as exc:  # handed to the listener, which decides (reconnect, fail the rows)
            conn = self._conns[flight.writer]
            if conn is not None and conn.broken:
                self._drop_connection(flight.writer)
            return Taken(flight.claims, flight.outcome, None, exc)

    def close(self) -> list[Taken]:
        """Wait for every batch in flight, close the connections and the threads; returns the batches,
        oldest first."""
        taken: list[Taken] = []
        while (one := self.take()) is not None:
            taken.append(one)
        for writer in range(self.writers):
            self._drop_connection(writer)
            executor = self._executors[writer]
            if executor is not None:
                executor.shutdown(wait=True)
                self._executors[writer] = None
        return taken

    def _drop_connection(self, writer: int) -> None:
        close_quietly(self._conns[writer])
        self._conns[writer] = None
