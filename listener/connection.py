"""Opening the listener's connections, and the backoff used while the database is away."""

from __future__ import annotations

import contextlib
import random

import psycopg

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


class Backoff:
    """Exponential backoff with jitter: base, 2×base, 4×base… capped, each delay drawn in [d/2, d].

    The jitter keeps many listeners that lost the same server from reconnecting in lockstep."""

    def __init__(self, base: float = 0.05, cap: float = 5.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0
