"""Numbers read from the database for /metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from sql.queries import QUERIES


@dataclass(frozen=True)
class LatencyBatch:
    """Results counted since the last read: counts per width_bucket index, their sum, the newest id."""

    counts: dict[int, int]
    seconds: float
    last_id: int | None


async def queue_depth(pool: AsyncConnectionPool) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = await conn.execute(QUERIES["queue_depth_by_status"])
        return dict(await cur.fetchall())


async def result_latency_since(
    pool: AsyncConnectionPool, after_id: int, bounds: Sequence[float], settle_seconds: float
) -> LatencyBatch:
    params = {"after_id": after_id, "bounds": list(bounds), "settle_seconds": settle_seconds}
    async with pool.connection() as conn:
        cur = await conn.execute(QUERIES["result_latency_since"], params)
        rows = await cur.fetchall()
    counts = {bucket: results for bucket, results, _, _ in rows}
    last = max((last_id for *_, last_id in rows), default=None)
    return LatencyBatch(counts, sum(seconds for _, _, seconds, _ in rows), last)


async def listeners_alive(pool: AsyncConnectionPool, alive_seconds: float) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(QUERIES["listeners_alive"], {"alive_seconds": alive_seconds})
        row = await cur.fetchone()
    return row[0] if row else 0
