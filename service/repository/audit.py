"""The audit trail as the API reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES


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
