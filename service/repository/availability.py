"""Which deployed models the running listeners cannot load (model_availability, written by listeners)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from sql.queries import QUERIES


@dataclass(frozen=True)
class Unavailable:
    reason: str
    next_retry_at: datetime | None


async def unavailable_models_on(
    conn: psycopg.AsyncConnection, alive_seconds: float
) -> dict[str, Unavailable]:
    """{model name: why} for each deployed model a live listener reports it cannot load."""
    cur = await conn.execute(QUERIES["unavailable_models"], {"alive_seconds": alive_seconds})
    return {name: Unavailable(reason, retry_at) for name, reason, retry_at in await cur.fetchall()}


async def unavailable_models(pool: AsyncConnectionPool, alive_seconds: float) -> dict[str, Unavailable]:
    async with pool.connection() as conn:
        return await unavailable_models_on(conn, alive_seconds)
