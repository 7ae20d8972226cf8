"""API keys: only SHA-256 digests reach the database."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from sql.queries import QUERIES


def key_digest(key: str) -> str:
    """The SHA-256 hex digest stored for (and compared against) a plain key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "fut_" + secrets.token_urlsafe(32)


async def key_digests(pool: AsyncConnectionPool) -> tuple[frozenset[str], bool]:
    """The active keys' digests, and whether any key (active or revoked) exists."""
    async with pool.connection() as conn:
        cur = await conn.execute(QUERIES["api_key_hashes"])
        rows = await cur.fetchall()
    return frozenset(digest for digest, active in rows if active), bool(rows)


def create_key(conn: psycopg.Connection, name: str) -> str:
    """Store a new key's digest under `name`; return the plain key (shown once, never stored)."""
    key = new_key()
    conn.execute(QUERIES["create_api_key"], {"name": name, "key_sha256": key_digest(key)})
    return key


def revoke_key(conn: psycopg.Connection, name: str) -> datetime | None:
    """Revoke the active key called `name`; None when there is none."""
    row = conn.execute(QUERIES["revoke_api_key"], {"name": name}).fetchone()
    return row[1] if row else None


def active_key_count(conn: psycopg.Connection) -> int:
    return sum(1 for _, active in conn.execute(QUERIES["api_key_hashes"]).fetchall() if active)


def list_keys(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """(name, created_at, revoked_at) of every key."""
    return conn.execute(QUERIES["list_api_keys"]).fetchall()
