"""Explanations: ask for one, read it back (the listener computes them; the API runs no model)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES


async def get_explanation(pool: AsyncConnectionPool, request_id: UUID) -> dict[str, Any] | None:
    """The request's status, its explanation request's and the explanation (columns null until they
    exist); None when no request has that id."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["get_explanation"], {"request_id": request_id})
        return await cur.fetchone()


async def request_explanation(pool: AsyncConnectionPool, request_id: UUID) -> None:
    """Ask the listeners for the explanation (again, if it failed before); a no-op when already asked."""
    async with pool.connection() as conn:
        await conn.execute(QUERIES["request_explanation"], {"request_id": request_id})


async def request_and_lookup_explanations(
    pool: AsyncConnectionPool, request_ids: list[UUID], top: int | None, only_key: int | None
) -> list[dict[str, Any]]:
    """Ask for the explanations not asked yet (of `only_key`'s requests alone, unless None), then read
    every one in the order asked (request columns null for an unknown id), contributions cut to `top`."""
    async with pool.connection() as conn:
        await conn.execute(
            QUERIES["request_explanations"], {"request_ids": request_ids, "only_key": only_key}
        )
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["lookup_explanations"], {"request_ids": request_ids, "top": top})
        return await cur.fetchall()
