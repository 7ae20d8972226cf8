"""The figures of one time window, read for GET /monitoring/summary."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES, class_rows

LISTENERS_SHOWN = 200


@dataclass(frozen=True)
class Window:
    """Requests submitted in [since, until), counted in buckets of bucket_seconds."""

    since: datetime
    until: datetime
    bucket_seconds: int


@dataclass(frozen=True)
class WindowFigures:
    throughput: list[dict[str, Any]]  # bucket, pending, running, completed, failed
    latency: dict[str, Any]  # count, percentiles [p50, p90, p95, p99] (ms), max (ms)
    histogram: list[dict[str, Any]]  # model_name, bin_start, bin_end, count
    listeners: list[dict[str, Any]]  # the listener_heartbeats columns and alive
    sample: list[dict[str, Any]]  # features of the newest requests


async def _rows(pool: AsyncConnectionPool, query: LiteralString, params: dict[str, Any]) -> list[dict]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query, params)
        return await cur.fetchall()


async def read_window(
    pool: AsyncConnectionPool, window: Window, *, bins: int, alive_seconds: float, sample_size: int
) -> WindowFigures:
    """Every figure of the window; the queries run at once, each on its own pooled connection."""
    span = {"since": window.since, "until": window.until}
    throughput, latency, histogram, listeners, sample = await asyncio.gather(
        _rows(pool, QUERIES["monitoring_throughput"], {**span, "bucket_seconds": window.bucket_seconds}),
        _rows(pool, QUERIES["monitoring_latency"], span),
        _rows(pool, QUERIES["monitoring_probability_histogram"], {**span, "bins": bins}),
        _rows(
            pool,
            QUERIES["monitoring_listeners"],
            {**span, "alive_seconds": alive_seconds, "limit": LISTENERS_SHOWN},
        ),
        _rows(pool, QUERIES["monitoring_feature_sample"], {**span, "limit": sample_size}),
    )
    return WindowFigures(
        throughput=throughput,
        latency=latency[0],
        histogram=histogram,
        listeners=listeners,
        sample=[row["features"] for row in sample],
    )


@dataclass(frozen=True)
class StoredReference:
    """The default version and the drift reference registered with it (None: registered without one)."""

    model_name: str
    version: str
    training_data_sha256: str | None
    training_rows: int | None
    reference: dict[str, Any] | None


STORED_REFERENCE = class_rows("monitoring_drift_reference", StoredReference)


async def read_drift_reference(pool: AsyncConnectionPool) -> StoredReference | None:
    """The default version's drift reference; None when no model is the default."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=STORED_REFERENCE)
        await cur.execute(QUERIES["monitoring_drift_reference"])
        return await cur.fetchone()
