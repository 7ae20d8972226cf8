"""Opening the listener's connections (the backoff used while the database is away is sql.backoff's)."""

from __future__ import annotations

import contextlib

import psycopg

from sql.backoff import Backoff  # noqa: F401  (the listener's callers import it from here)

# Errors that mean "the connection or the server went away" (restart, terminate, network): reconnect.
# psycopg raises InterfaceError when a connection already known broken is used again.
CONNECTION_LOST: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError)

CONNECT_TIMEOUT_SECONDS = 5


def connect(database_url: str, application_name: str) -> psycopg.Connection:
    """An autocommit connection: each claim, write or heartbeat is one statement and its own transaction.

    TCP keepalives make a peer that vanished without a FIN show up as an error instead of a hang
    (libpq ignores them on unix sockets, where the kernel reports a dead server at once)."""
    return psycopg.connect(
        database_url,
        autocommit=True,
        application_name=application_name[:63],
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )


def first_line(exc: BaseException) -> str:
    """A connection error on one log line (libpq's messages span several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def close_quietly(conn: psycopg.Connection | None) -> None:
    """Close a connection that may already be broken."""
    if conn is not None:
        # A broken connection may fail to close; it is gone either way.
        with contextlib.suppress(Exception):
            conn.close()
