"""The audit trail as the API reads it, and the actor the API states before an audited change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.audit import stating_actor
from sql.plans import run_async
from sql.queries import QUERIES


@dataclass(frozen=True)
class AuditFilter:
    actions: list[str] | None = None  # None: every action
    since: datetime | None = None
    before_id: int | None = None


async def audit_trail(pool: AsyncConnectionPool, where: AuditFilter, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` events matching `where`, newest first."""
    params = {"actions": where.actions, "since": where.since, "before_id": where.before_id, "limit": limit}
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUERIES["audit_trail"], params)
        return await cur.fetchall()


@asynccontextmanager
async def acting_as(
    pool: AsyncConnectionPool, actor: str, details: dict[str, Any] | None = None
) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction whose audited changes (triggers, audit()) name `actor` and carry `details`: what
    an admin action through the API runs its statements in."""
    async with pool.connection() as conn, conn.transaction():
        await run_async(conn, stating_actor(actor, details))
        yield conn
