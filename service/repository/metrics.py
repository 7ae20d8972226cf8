"""Numbers read from the database for /metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES, class_rows


@dataclass(frozen=True)
class LatencyBatch:
    """Results counted since the last read: counts per width_bucket index, their sum, the newest id."""

    counts: dict[int, int]
    seconds: float
    last_id: int | None


@dataclass(frozen=True)
class StatusCount:
    status: str
    requests: int


@dataclass(frozen=True)
class LatencyBucket:
    bucket: int
    results: int
    seconds: float
    last_id: int


STATUS_COUNTS = class_rows("queue_depth_by_status", StatusCount)
LATENCY_BUCKETS = class_rows("result_latency_since", LatencyBucket)


async def queue_depth(pool: AsyncConnectionPool) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=STATUS_COUNTS)
        await cur.execute(QUERIES["queue_depth_by_status"])
        return {row.status: row.requests for row in await cur.fetchall()}


async def result_latency_since(
    pool: AsyncConnectionPool, after_id: int, bounds: Sequence[float], settle_seconds: float
) -> LatencyBatch:
    params = {"after_id": after_id, "bounds": list(bounds), "settle_seconds": settle_seconds}
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=LATENCY_BUCKETS)
        await cur.execute(QUERIES["result_latency_since"], params)
        rows = await cur.fetchall()
    counts = {row.bucket: row.results for row in rows}
    last = max((row.last_id for row in rows), default=None)
    return LatencyBatch(counts, sum(row.seconds for row in rows), last)


async def listeners_alive(pool: AsyncConnectionPool, alive_seconds: float) -> int:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["listeners_alive"], {"alive_seconds": alive_seconds})
        row = await cur.fetchone()
    return row["listeners"] if row else 0
