"""The API's connection pool, and what counts as "the database is unreachable"."""

from __future__ import annotations

import select
from time import monotonic

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from service.settings import ApiSettings

# Exceptions that mean the database (not the request) is the problem: answered with 503.
DATABASE_DOWN = (psycopg.OperationalError, PoolTimeout)
# The schema files are not (all) applied: also a 503, with the fix in the message.
SCHEMA_BEHIND = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
    psycopg.errors.UndefinedFunction,
)


class NotStored(Exception):
    """A submission failed before the database could store anything: a plain retry is safe."""


class MaybeStored(Exception):
    """The connection was lost while the database ran a submission's INSERT: it may have committed."""


# A connection lent this recently is trusted without a check round trip: under load every request
# would otherwise pay two round trips. One lent longer ago (a restart may have happened) is checked.
# Noted when lent, not when returned: a pool `reset` callback (the only hook on return) makes the pool
# return every connection through a task of its worker, a task hop per statement.
CHECK_AFTER_IDLE_SECONDS = 1.0
_LENT_AT = "_futurisys_lent_at"


def _server_spoke(conn: psycopg.AsyncConnection) -> bool:
    """Whether an idle connection has something to read: the server's goodbye (a FATAL on shutdown,
    or end of file). Asked without a round trip, so a stopped server's connections are never lent out
    and a submission is not told "it may have been stored" when it was never sent."""
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    return bool(readable)


async def check_idle_connection(conn: psycopg.AsyncConnection) -> None:
    """`AsyncConnectionPool.check_connection`, skipped for a connection lent under a second ago unless
    the server has hung up on it meanwhile."""
    lent_at = getattr(conn, _LENT_AT, None)
    now = monotonic()
    if lent_at is None or now - lent_at > CHECK_AFTER_IDLE_SECONDS or _server_spoke(conn):
        await AsyncConnectionPool.check_connection(conn)
    setattr(conn, _LENT_AT, now)


async def accepts_connections(conninfo: str) -> bool:
    """Whether the database accepts a new connection: tells a full pool from a server that is away."""
    try:
        conn = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=2)
    except psycopg.OperationalError:
        return False
    await conn.close()
    return True


def make_pool(conninfo: str, settings: ApiSettings) -> AsyncConnectionPool:
    """An unopened autocommit pool (the app's lifespan opens and closes it)."""
    return AsyncConnectionPool(
        conninfo,
        min_size=settings.api_pool_min,
        max_size=max(settings.api_pool_min, settings.api_pool_max),
        open=False,
        check=check_idle_connection,
        timeout=settings.api_pool_timeout_seconds,
        # Give up a background reconnect soon: the next request that needs a connection starts a
        # fresh attempt, so service comes back within a request of the database returning.
        reconnect_timeout=5.0,
        kwargs={"autocommit": True, "connect_timeout": 3},
        name="api",
    )
