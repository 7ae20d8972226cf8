"""API keys: only SHA-256 digests reach the database, each with the scopes the key holds."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES, class_rows

# submit: write, and read back what the key submitted; read: read every request; admin: keys, audit.
SCOPES = ("submit", "read", "admin")
DEFAULT_SCOPES = ("submit",)


@dataclass(frozen=True)
class KeyInfo:
    """What the API knows of an active key (never the key itself)."""

    id: int
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class CachedKey:
    """A row of the API's key cache: any key, active or revoked."""

    key_sha256: str
    id: int
    name: str
    scopes: list[str]
    active: bool


@dataclass(frozen=True)
class KeyHash:
    key_sha256: str
    active: bool


@dataclass(frozen=True)
class KeyListing:
    """A key as `python -m service keys list` shows it (never its hash)."""

    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


CACHED_KEYS = class_rows("api_key_cache", CachedKey)
KEY_HASHES = class_rows("api_key_hashes", KeyHash)
KEY_LISTINGS = class_rows("list_api_keys", KeyListing)


def key_digest(key: str) -> str:
    """The SHA-256 hex digest stored for (and compared against) a plain key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "fut_" + secrets.token_urlsafe(32)


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in their canonical order, each once; ValueError naming an unknown one."""
    asked = {s.strip() for s in scopes if s.strip()}
    unknown = sorted(asked - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(map(repr, unknown))}; known: {', '.join(SCOPES)}")
    if not asked:
        raise ValueError(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in asked]


async def key_cache(pool: AsyncConnectionPool) -> tuple[dict[str, KeyInfo], bool]:
    """The active keys by digest, and whether any key (active or revoked) exists."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=CACHED_KEYS)
        await cur.execute(QUERIES["api_key_cache"])
        rows = await cur.fetchall()
    active = {r.key_sha256: KeyInfo(r.id, r.name, frozenset(r.scopes)) for r in rows if r.active}
    return active, bool(rows)


def create_key(conn: psycopg.Connection, name: str, scopes: Iterable[str] = DEFAULT_SCOPES) -> str:
    """Store a new key's digest under `name` with `scopes`; return the plain key (shown once only)."""
    key = new_key()
    params = {"name": name, "key_sha256": key_digest(key), "scopes": checked_scopes(scopes)}
    conn.execute(QUERIES["create_api_key"], params)
    return key


def revoke_key(conn: psycopg.Connection, name: str) -> datetime | None:
    """Revoke the active key called `name`; None when there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(QUERIES["revoke_api_key"], {"name": name}).fetchone()
    return row["revoked_at"] if row else None


def active_digests(conn: psycopg.Connection) -> set[str]:
    """The digests of the active keys."""
    with conn.cursor(row_factory=KEY_HASHES) as cur:
        return {k.key_sha256 for k in cur.execute(QUERIES["api_key_hashes"]).fetchall() if k.active}


def list_keys(conn: psycopg.Connection) -> list[KeyListing]:
    """Every key, oldest first, without its hash."""
    with conn.cursor(row_factory=KEY_LISTINGS) as cur:
        return cur.execute(QUERIES["list_api_keys"]).fetchall()
