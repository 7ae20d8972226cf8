"""Whether the database's schema is current (GET /health)."""

from __future__ import annotations

import psycopg

from sql.migrate import pending_files
from sql.plans import run_async


async def pending_migrations(conn: psycopg.AsyncConnection) -> list[str]:
    """Schema files not applied yet (raises SchemaDrift on an edited one): sql.migrate's plan, run async."""
    return await run_async(conn, pending_files())
