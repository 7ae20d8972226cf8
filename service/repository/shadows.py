"""Reads for GET /models/compare and GET /models/events (sql/queries/shadows.sql)."""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES


async def _rows(pool: AsyncConnectionPool, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES[name], params)
        return await cur.fetchall()


async def comparison(
    pool: AsyncConnectionPool, params: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The comparison row, the primary versions of its pairs, and the shadows running now."""
    figures, primaries, shadows = await asyncio.gather(
        _rows(pool, "compare_challenger", params),
        _rows(pool, "compare_primaries", params),
        _rows(pool, "list_shadows", {}),
    )
    return figures[0], primaries, shadows


async def events(pool: AsyncConnectionPool, model_name: str | None, limit: int) -> list[dict[str, Any]]:
    """Model events, newest first."""
    return await _rows(pool, "model_events", {"model_name": model_name, "limit": limit})


async def shadows(pool: AsyncConnectionPool) -> list[dict[str, Any]]:
    """The shadows running now, by name."""
    return await _rows(pool, "list_shadows", {})
