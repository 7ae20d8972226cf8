"""Group commit for single submissions: the ones that arrive together are inserted by one statement.

Under load, every single `POST /predictions/request` used to pay its own pool checkout, round trip,
commit (a WAL flush) and prediction_requested notification (and notifying commits serialise on one
cluster-wide lock). Here a submission joins a queue; a flush takes everything queued, up to
`max_group`, into one INSERT of many rows. At most `max_in_flight` flushes run at once, so while they
are at the database the next arrivals gather into the following group: one client alone is never
delayed (its submission is flushed at once), sixteen share commits.

Each caller still gets exactly what one INSERT of its own would have given: its row, or for a used
Idempotency-Key the original (re-read by the single path, as before); a database outage or a lost
connection reaches every caller of the group as it would have reached each (NotStored / MaybeStored);
any other refusal of the group statement (one row the database will not take) is retried one by one,
so only that row's caller sees the error.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool

from service.db import DATABASE_DOWN, MaybeStored
from service.repository import requests
from service.repository.requests import SubmittedRow

log = logging.getLogger(__name__)

# Errors every caller of a group shares: the database, not a row, is the problem.
SHARED_FAILURES = (*DATABASE_DOWN, MaybeStored)


@dataclass
class Submission:
    request_id: UUID
    model_name: str
    features: dict[str, Any]
    idempotency_key: str | None
    subject_ref: str | None
    api_key_id: int | None
    answer: asyncio.Future[SubmittedRow] = field(repr=False, default=None)  # type: ignore[assignment]


class SubmissionGroups:
    def __init__(self, pool: AsyncConnectionPool, max_group: int = 256, max_in_flight: int = 2) -> None:
        self._pool = pool
        self._max_group = max_group
        self._max_in_flight = max_in_flight
        self._queue: list[Submission] = []
        self._flushes: set[asyncio.Task[None]] = set()
        # The flush created and not started yet: it takes the queue when it starts.
        self._gatherer: asyncio.Task[None] | None = None
        self.groups = 0  # statements sent, and the rows they inserted (tests read them)
        self.rows = 0

    async def submit(
        self,
        request_id: UUID,
        model_name: str,
        features: dict[str, Any],
        idempotency_key: str | None,
        subject_ref: str | None = None,
        api_key_id: int | None = None,
    ) -> SubmittedRow:
        """What `requests.submit` returns for this submission, inserted together with its neighbours."""
        item = Submission(request_id, model_name, features, idempotency_key, subject_ref, api_key_id)
        item.answer = asyncio.get_running_loop().create_future()
        self._queue.append(item)
        self._flush_if_room()
        # Shielded: a caller that goes away (client disconnect) must not cancel its neighbours' insert.
        return await asyncio.shield(item.answer)

    def _flush_if_room(self) -> None:
        # One flush gathering at a time: it takes its group when it starts, so every submission that
        # arrives before then (those of the same event-loop turn: sixteen clients' requests read
        # together) joins it, instead of the first one or two going out alone.
        if self._queue and self._gatherer is None and len(self._flushes) < self._max_in_flight:
            self._gatherer = asyncio.create_task(self._flush(), name="submission-group")
            self._flushes.add(self._gatherer)
            self._gatherer.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if task is self._gatherer:  # cancelled before it started: it took nothing
            self._gatherer = None
        self._flush_if_room()

    async def _flush(self) -> None:
        self._gatherer = None
        group, self._queue = self._queue[: self._max_group], self._queue[self._max_group :]
        self._flush_if_room()  # more than one group's worth waiting: the next may start
        if not group:
            return
        try:
            await self._insert(group)
        except BaseException as exc:  # never leave a caller waiting
            for item in group:
                _fail(item, exc)
            if not isinstance(exc, Exception):
                raise

    async def _insert(self, group: list[Submission]) -> None:
        if len(group) == 1:
            await self._one(group[0])
            return
        try:
            inserted = await requests.submit_group(
                self._pool,
                [i.request_id for i in group],
                [i.model_name for i in group],
                [i.features for i in group],
                [i.idempotency_key for i in group],
                [i.subject_ref for i in group],
                [i.api_key_id for i in group],
            )
        except SHARED_FAILURES as exc:
            for item in group:
                _fail(item, exc)
            return
        except psycopg.Error as exc:  # one row refused sinks the statement: each on its own, to find it
            log.warning("a group of %d submissions was refused (%s); one by one now", len(group), exc)
            await asyncio.gather(*(self._one(item) for item in group))
            return
        self.groups += 1
        self.rows += len(inserted)
        # Rows not inserted had a used Idempotency-Key: the single path reads the original.
        replays = []
        for item in group:
            row = inserted.get(item.request_id)
            if row is None:
                replays.append(self._one(item))
            else:
                _answer(item, row)
        if replays:
            await asyncio.gather(*replays)

    async def _one(self, item: Submission) -> None:
        try:
            row = await requests.submit(
                self._pool,
                item.request_id,
                item.model_name,
                item.features,
                item.idempotency_key,
                item.subject_ref,
                item.api_key_id,
            )
        except Exception as exc:
            _fail(item, exc)
            return
        self.groups += 1
        self.rows += not row.replayed
        _answer(item, row)


def _answer(item: Submission, row: SubmittedRow) -> None:
    if not item.answer.done():
        item.answer.set_result(row)


def _fail(item: Submission, exc: BaseException) -> None:
    if not item.answer.done():
        item.answer.set_exception(exc)


class ReadGroups:
    """Reads of single requests by waiters woken together (a listener's batch of results wakes many
    at once) share one lookup statement instead of one query each; one reader alone reads at once.
    A failure of the lookup reaches each of its readers as their own read's would have."""

    def __init__(self, pool: AsyncConnectionPool, max_group: int = 256, max_in_flight: int = 2) -> None:
        self._pool = pool
        self._max_group = max_group
        self._max_in_flight = max_in_flight
        self._queue: list[tuple[UUID, asyncio.Future[dict[str, Any] | None]]] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def get(self, request_id: UUID) -> dict[str, Any] | None:
        """The request's row as `requests.get_prediction` returns it (None when unknown)."""
        answer: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._queue.append((request_id, answer))
        self._flush_if_room()
        return await asyncio.shield(answer)

    def _flush_if_room(self) -> None:
        while self._queue and len(self._flushes) < self._max_in_flight:
            group, self._queue = self._queue[: self._max_group], self._queue[self._max_group :]
            task = asyncio.create_task(self._flush(group), name="read-group")
            self._flushes.add(task)
            task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        self._flush_if_room()

    async def _flush(self, group: list[tuple[UUID, asyncio.Future[dict[str, Any] | None]]]) -> None:
        try:
            if len(group) == 1:
                rows = [await requests.get_prediction(self._pool, group[0][0])]
            else:
                rows = await requests.lookup_predictions(self._pool, [request_id for request_id, _ in group])
        except BaseException as exc:
            for _, answer in group:
                if not answer.done():
                    answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), row in zip(group, rows, strict=True):
            if not answer.done():
                answer.set_result(row)
