"""Prediction requests and their results: submit, read, page through history."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from service.db import MaybeStored
from sql import json_codec
from sql.named_queries import QUERIES, class_rows


@dataclass(frozen=True)
class SubmittedRow:
    request_id: UUID
    model_name: str
    status: str
    created_at: datetime
    replayed: bool = False
    features: dict[str, Any] | None = None
    api_key_id: int | None = None  # of a replayed row: the key that submitted the original


@dataclass(frozen=True)
class Original:
    """A request an earlier batch submitted under one of a retried batch's idempotency keys."""

    idempotency_key: str
    request_id: UUID
    api_key_id: int | None
    model_name: str
    features: dict[str, Any]


INSERTED = class_rows("insert_prediction_request", SubmittedRow)
INSERTED_GROUP = class_rows("insert_prediction_requests_grouped", SubmittedRow)
REPLAYED = class_rows("find_request_by_idempotency_key", SubmittedRow)
ORIGINALS = class_rows("find_requests_by_idempotency_keys", Original)


@dataclass(frozen=True)
class HistoryFilter:
    status: str | None = None
    model_name: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    api_key_id: int | None = None  # only the requests this key submitted (a submit-only key)


@asynccontextmanager
async def storing(conn: psycopg.AsyncConnection) -> AsyncIterator[None]:
    """Statements that store a submission: a connection lost while they run may have committed them."""
    try:
        yield
    except psycopg.OperationalError as exc:
        # An error the server reported on a live connection rolled the statement back (autocommit).
        if conn.broken:
            raise MaybeStored(str(exc)) from exc
        raise


async def submit(
    pool: AsyncConnectionPool,
    request_id: UUID,
    model_name: str,
    features: dict[str, Any],
    idempotency_key: str | None,
    subject_ref: str | None = None,
    api_key_id: int | None = None,
) -> SubmittedRow:
    """Insert one request (one round trip) as sent by key `api_key_id`; with a used idempotency key,
    return the original instead."""
    params = {
        "request_id": request_id,
        "model_name": model_name,
        "features": Jsonb(features),
        "idempotency_key": idempotency_key,
        "subject_ref": subject_ref,
        "api_key_id": api_key_id,
    }
    async with pool.connection() as conn:
        async with storing(conn):
            cur = conn.cursor(row_factory=INSERTED)
            await cur.execute(QUERIES["insert_prediction_request"], params)
            row = await cur.fetchone()
        if row is not None:
            return row
        # The key was used: read the original in a new statement, which sees a concurrent
        # retry's row once it has committed (ON CONFLICT waited for that commit).
        replayed = conn.cursor(row_factory=REPLAYED)
        await replayed.execute(QUERIES["find_request_by_idempotency_key"], params)
        found = await replayed.fetchone()
    if found is None:  # the original was deleted between the two statements
        raise LookupError(f"request with Idempotency-Key {idempotency_key!r} vanished")
    return dataclasses.replace(found, replayed=True)


async def submit_group(
    pool: AsyncConnectionPool,
    request_ids: list[UUID],
    model_names: list[str],
    items: list[dict[str, Any]],
    idempotency_keys: list[str | None],
    subject_refs: list[str | None],
    api_key_ids: list[int | None],
) -> dict[UUID, SubmittedRow]:
    """Insert single submissions together (group commit, service/grouping.py): the rows inserted, by
    request id; a row with an idempotency key already used is not among them."""
    params = {
        "request_ids": request_ids,
        "model_names": model_names,
        "items": json_codec.dumps(items),
        "idempotency_keys": idempotency_keys if any(k is not None for k in idempotency_keys) else None,
        "subject_refs": subject_refs if any(r is not None for r in subject_refs) else None,
        "api_key_ids": api_key_ids if any(k is not None for k in api_key_ids) else None,
    }
    async with pool.connection() as conn, storing(conn):
        cur = conn.cursor(row_factory=INSERTED_GROUP)
        await cur.execute(QUERIES["insert_prediction_requests_grouped"], params)
        rows = await cur.fetchall()
    return {row.request_id: row for row in rows}


def batch_keys(idempotency_key: str | None, count: int) -> list[str] | None:
    """Per-row idempotency keys of a batch submitted under one Idempotency-Key."""
    if idempotency_key is None:
        return None
    return [f"batch:{idempotency_key}:{i}" for i in range(count)]


# Rows per commit of a batch: the listener claims the first chunk while the API stores the next ones
# (pipelining), and each commit sends its own prediction_requested notification.
BATCH_CHUNK_ROWS = 1_000


class BatchKeyConflict(Exception):
    """A batch's Idempotency-Key already holds other requests (other items, model or submitting key)."""


@dataclass(frozen=True)
class StoredBatch:
    request_ids: list[UUID]  # in the items' order: the originals where a retry found them
    inserted: int  # rows this call stored


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
_NULL = struct.pack("!i", -1)
_ROW_START = struct.pack("!hi", 5, 16)  # five fields, the first a 16-byte uuid


def _text_field(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode()
    return struct.pack("!i", len(data)) + data


def copy_rows(
    request_ids: list[UUID],
    model_name: str,
    items: list[dict[str, Any]],
    subject_refs: list[str | None] | None,
    api_key_id: int | None,
) -> bytes:
    """The rows as PostgreSQL's binary COPY stream, columns as copy_prediction_batch lists them (jsonb
    travels as its version byte 1 and the JSON text, which the server parses as it would the text)."""
    model = _text_field(model_name)
    key = _NULL if api_key_id is None else struct.pack("!iq", 8, api_key_id)
    refs = subject_refs if subject_refs is not None else [None] * len(items)
    parts = [_COPY_HEADER]
    for request_id, item, ref in zip(request_ids, items, refs, strict=True):
        doc = json_codec.dumps(item).encode()
        parts.append(
            b"".join((_ROW_START, request_id.bytes, model, struct.pack("!ib", len(doc) + 1, 1), doc))
            + _text_field(ref)
            + key
        )
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


async def _copy_chunk(
    conn: psycopg.AsyncConnection,
    request_ids: list[UUID],
    model_name: str,
    items: list[dict[str, Any]],
    subject_refs: list[str | None] | None,
    api_key_id: int | None,
) -> int:
    """Store rows without idempotency keys with one binary COPY (its own commit: autocommit)."""
    cur = conn.cursor()
    async with cur.copy(QUERIES["copy_prediction_batch"]) as copy:
        await copy.write(copy_rows(request_ids, model_name, items, subject_refs, api_key_id))
    return cur.rowcount


async def _insert_keyed_chunk(
    conn: psycopg.AsyncConnection,
    request_ids: list[UUID],
    model_name: str,
    items: list[dict[str, Any]],
    keys: list[str],
    subject_refs: list[str | None] | None,
    api_key_id: int | None,
) -> tuple[list[UUID], int]:
    """Store rows under idempotency keys, skipping the keys already used; the ids in order (the
    originals for the used keys) and how many rows were new. Raises BatchKeyConflict when an original
    is not this item for this model from this submitting key."""
    params = {
        "request_ids": request_ids,
        "model_name": model_name,
        "items": json_codec.dumps(items),
        "idempotency_keys": keys,
        "subject_refs": subject_refs,
        "api_key_id": api_key_id,
    }
    cur = await conn.execute(QUERIES["insert_prediction_batch"], params)
    inserted = cur.rowcount
    if inserted == len(items):
        return request_ids, inserted
    originals = conn.cursor(row_factory=ORIGINALS)
    await originals.execute(QUERIES["find_requests_by_idempotency_keys"], {"idempotency_keys": keys})
    found = {o.idempotency_key: o for o in await originals.fetchall()}
    ids = []
    for key, request_id, item in zip(keys, request_ids, items, strict=True):
        original = found.get(key)
        if original is None or original.request_id == request_id:  # missing (below), or this call's row
            ids.append(request_id)
        elif (original.model_name, original.features, original.api_key_id) != (model_name, item, api_key_id):
            raise BatchKeyConflict(key)
        else:
            ids.append(original.request_id)
    if len(found) < len(items):
        # A row neither stored nor found: ON CONFLICT skipped it for another unique key (its public
        # id), or its original vanished. A retry under the same key stores it.
        raise MaybeStored(f"{len(items) - len(found)} rows of a batch chunk were neither stored nor found")
    return ids, inserted


async def submit_batch(
    pool: AsyncConnectionPool,
    request_ids: list[UUID],
    model_name: str,
    items: list[dict[str, Any]],
    idempotency_key: str | None,
    subject_refs: list[str | None] | None = None,
    api_key_id: int | None = None,
    chunk_rows: int | None = None,
) -> StoredBatch:
    """Store all items (sent by key `api_key_id`) in chunks of `chunk_rows` (BATCH_CHUNK_ROWS), each its
    own commit, so the listener starts on the first before the last is stored. Without an
    Idempotency-Key each chunk is one binary COPY; with one, an INSERT that skips the keys already used
    and returns the originals. A failure after a chunk committed is MaybeStored (part of the batch is
    stored: a retry under the same key stores the rest); a key holding other requests is
    BatchKeyConflict."""
    keys = batch_keys(idempotency_key, len(items))
    chunk_rows = chunk_rows or BATCH_CHUNK_ROWS
    ids: list[UUID] = []
    inserted = 0
    async with pool.connection() as conn:
        for lo in range(0, len(items), chunk_rows):
            hi = lo + chunk_rows
            try:
                async with storing(conn):
                    if keys is None:
                        inserted += await _copy_chunk(
                            conn,
                            request_ids[lo:hi],
                            model_name,
                            items[lo:hi],
                            subject_refs[lo:hi] if subject_refs else None,
                            api_key_id,
                        )
                        ids.extend(request_ids[lo:hi])
                    else:
                        chunk_ids, new = await _insert_keyed_chunk(
                            conn,
                            request_ids[lo:hi],
                            model_name,
                            items[lo:hi],
                            keys[lo:hi],
                            subject_refs[lo:hi] if subject_refs else None,
                            api_key_id,
                        )
                        ids.extend(chunk_ids)
                        inserted += new
            except (BatchKeyConflict, MaybeStored):
                raise
            except Exception as exc:
                if inserted:  # earlier chunks are committed: the batch is partly stored
                    raise MaybeStored(f"{inserted} of {len(items)} batch rows stored, then: {exc}") from exc
                raise
    return StoredBatch(ids, inserted)


async def get_prediction(pool: AsyncConnectionPool, request_id: UUID) -> dict[str, Any] | None:
    """The request with its result columns (result_* null until a result exists), or None."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["get_prediction"], {"request_id": request_id})
        return await cur.fetchone()


async def lookup_predictions(
    pool: AsyncConnectionPool, request_ids: list[UUID]
) -> list[dict[str, Any] | None]:
    """The rows of `request_ids` as get_prediction has them, in the order asked; None for an unknown id."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["lookup_predictions"], {"request_ids": request_ids})
        rows = await cur.fetchall()
    return [row if row["request_id"] is not None else None for row in rows]


async def history(
    pool: AsyncConnectionPool, where: HistoryFilter, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` requests older than `before_id` (all when None), newest first."""
    params = {**where.__dict__, "before_id": before_id, "limit": limit}
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["prediction_history"], params)
        return await cur.fetchall()


async def history_total(pool: AsyncConnectionPool, where: HistoryFilter, cap: int) -> int:
    """How many requests match `where` (all pages), counting no further than `cap`."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["prediction_history_count"], {**where.__dict__, "cap": cap})
        row = await cur.fetchone()
    return int(row["total"]) if row else 0
