"""Which deployed models the running listeners cannot load (model_availability, written by listeners)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES, class_rows


@dataclass(frozen=True)
class Unavailable:
    reason: str
    next_retry_at: datetime | None


@dataclass(frozen=True)
class UnavailableRow:
    model_name: str
    error: str
    next_retry_at: datetime | None


UNAVAILABLE = class_rows("unavailable_models", UnavailableRow)


async def unavailable_models_on(
    conn: psycopg.AsyncConnection, alive_seconds: float
) -> dict[str, Unavailable]:
    """{model name: why} for each deployed model a live listener reports it cannot load."""
    cur = conn.cursor(row_factory=UNAVAILABLE)
    await cur.execute(QUERIES["unavailable_models"], {"alive_seconds": alive_seconds})
    return {r.model_name: Unavailable(r.error, r.next_retry_at) for r in await cur.fetchall()}


async def unavailable_models(pool: AsyncConnectionPool, alive_seconds: float) -> dict[str, Unavailable]:
    async with pool.connection() as conn:
        return await unavailable_models_on(conn, alive_seconds)
