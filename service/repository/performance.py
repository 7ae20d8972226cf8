"""The live performance figures of each model version, read for GET /monitoring/performance and /metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES


@dataclass(frozen=True)
class PerformanceWindow:
    """Predictions submitted in [since, until), of one model name or (None) all."""

    since: datetime
    until: datetime
    model_name: str | None = None


async def _rows(pool: AsyncConnectionPool, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES[name], params)
        return await cur.fetchall()


async def by_version(
    pool: AsyncConnectionPool, window: PerformanceWindow, bucket_seconds: int | None = None
) -> list[dict[str, Any]]:
    """One row per model name, version and bucket (the whole window when bucket_seconds is None)."""
    return await _rows(pool, "performance_by_version", {**window.__dict__, "bucket_seconds": bucket_seconds})


async def calibration(
    pool: AsyncConnectionPool, window: PerformanceWindow, bins: int
) -> list[dict[str, Any]]:
    """Every probability bin of every version with a labelled prediction."""
    return await _rows(pool, "performance_calibration", {**window.__dict__, "bins": bins})


async def read_all(
    pool: AsyncConnectionPool, window: PerformanceWindow, bucket_seconds: int, bins: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The window's figures, its figures per bucket and its calibration, each on its own connection."""
    return await asyncio.gather(
        by_version(pool, window), by_version(pool, window, bucket_seconds), calibration(pool, window, bins)
    )
