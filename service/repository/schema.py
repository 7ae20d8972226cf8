"""Whether the database's schema is current (GET /health)."""

from __future__ import annotations

import psycopg

from sql.migrate import check_applied, schema_files
from sql.queries import QUERIES


async def pending_migrations(conn: psycopg.AsyncConnection) -> list[str]:
    """Schema files not applied yet (raises SchemaDrift on an edited one); async twin of sql.migrate's."""
    cur = await conn.execute(QUERIES["migrations_table_exists"])
    row = await cur.fetchone()
    applied: dict[str, str] = {}
    if row and row[0]:
        cur = await conn.execute(QUERIES["applied_migrations"])
        applied = dict(await cur.fetchall())
    return [f.name for f in check_applied(applied, schema_files())]
