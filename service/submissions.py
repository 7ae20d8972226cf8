"""Submitting predictions, with the optional wait for the answer in the same call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import HTTPException

from service.answers import submitted_row
from service.db import DATABASE_DOWN, NotStored
from service.ids import new_request_id, new_request_ids
from service.repository import requests
from service.repository.requests import SubmittedRow
from service.services import Services
from service.waiting import TERMINAL, wait_until_done


@dataclass(frozen=True)
class Outcome:
    submitted: SubmittedRow
    done: dict[str, Any] | None  # the prediction row, when it finished within the wait


def _done(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return row if row is not None and row["status"] in TERMINAL else None


@contextmanager
def _unless_stored() -> Iterator[None]:
    """The database's being away, told apart from a lost INSERT (MaybeStored passes through)."""
    try:
        yield
    except DATABASE_DOWN as exc:
        raise NotStored(str(exc)) from exc


async def _insert(
    svc: Services,
    request_id: UUID,
    model_name: str,
    features: dict[str, Any],
    key: str | None,
    subject_ref: str | None = None,
    api_key_id: int | None = None,
) -> SubmittedRow:
    with _unless_stored():
        row = await svc.groups.submit(request_id, model_name, features, key, subject_ref, api_key_id)
    if not row.replayed:
        svc.metrics.count_submissions(model_name)
    elif row.model_name != model_name or row.features != features or row.api_key_id != api_key_id:
        raise used_elsewhere(key)
    return row


def used_elsewhere(key: str | None) -> HTTPException:
    # Also when another API key used it: a replay would hand over that key's request.
    return HTTPException(409, f"Idempotency-Key {key!r} was already used for a different request")


async def wait_for(svc: Services, request_id: UUID, seconds: float) -> dict[str, Any] | None:
    """The request's row once done or when `seconds` run out; None when the request is unknown."""
    with svc.hub.watch(request_id) as waiter:
        return await wait_until_done(
            svc.reads.get, waiter, request_id, seconds, from_notification=svc.settings.api_answer_from_notify
        )


async def submit_one(
    svc: Services,
    model_name: str,
    features: dict[str, Any],
    key: str | None,
    wait: float | None,
    subject_ref: str | None = None,
    api_key_id: int | None = None,
) -> Outcome:
    """Insert one request (the API picks its id, so the waiter is registered before the row exists)."""
    request_id = new_request_id()
    if wait is None:
        return Outcome(
            await _insert(svc, request_id, model_name, features, key, subject_ref, api_key_id), None
        )
    with svc.hub.watch(request_id) as waiter:
        row = await _insert(svc, request_id, model_name, features, key, subject_ref, api_key_id)
        if not row.replayed:
            known = None
            if svc.settings.api_answer_from_notify:
                known = submitted_row(
                    request_id, model_name, row.created_at, features, subject_ref, api_key_id
                )
            done = await wait_until_done(svc.reads.get, waiter, request_id, wait, False, known)
            return Outcome(row, _done(done))
    # A retry: the original may be done already, or still running.
    return Outcome(row, _done(await wait_for(svc, row.request_id, wait)))


async def submit_many(
    svc: Services,
    model_name: str,
    items: list[dict[str, Any]],
    key: str | None,
    subject_refs: list[str | None] | None = None,
    api_key_id: int | None = None,
) -> tuple[list[UUID], bool]:
    """Store every item, chunk by chunk (each chunk its own commit: the listener starts on the first
    while the rest are stored); the ids in the items' order, and whether they all were there already
    (a retry under the same Idempotency-Key). Failing after a chunk committed is MaybeStored: a retry
    under the same key stores the rest, never an item twice."""
    new_ids = new_request_ids(len(items))
    try:
        with _unless_stored():
            stored = await requests.submit_batch(
                svc.pool, new_ids, model_name, items, key, subject_refs, api_key_id
            )
    except requests.BatchKeyConflict:
        raise used_elsewhere(key) from None
    svc.metrics.count_submissions(model_name, stored.inserted)
    return stored.request_ids, key is not None and stored.inserted == 0
