"""The dedicated LISTEN connection, and the self-check that proves it still delivers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import psycopg

from listener.connection import close_quietly, connect
from sql.named_queries import QUERIES

REQUESTED = "prediction_requested"
PROMOTED = "model_promoted"
PING = "listener_ping"
EXPLAIN = "explanation_requested"


class ListenConnectionSilent(RuntimeError):
    """The LISTEN connection did not deliver our own ping: it is dead without having said so."""


@dataclass
class Wakes:
    """What the notifications read in one go asked for."""

    requested: bool = False
    explain: bool = False  # explanations were asked for (requested is set too)
    promoted: bool = False
    pings: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return self.requested or self.promoted or bool(self.pings)


class ListenConnection:
    """An autocommit connection that only LISTENs; the work runs on another connection, so a long
    batch never delays reading a notification's bytes off this socket (they queue in the kernel)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    @classmethod
    def open(cls, database_url: str, application_name: str) -> ListenConnection:
        conn = connect(database_url, application_name)
        try:
            conn.execute(QUERIES["listen_channels"])
        except BaseException:
            close_quietly(conn)
            raise
        return cls(conn)

    def fileno(self) -> int:
        return self.conn.fileno()

    def read(self) -> Wakes:
        """Every notification already received, without blocking; raises when the connection is gone."""
        wakes = Wakes()
        for note in self.conn.notifies(timeout=0):
            if note.channel in (REQUESTED, EXPLAIN):  # either is work to claim
                wakes.requested = True
                wakes.explain = wakes.explain or note.channel == EXPLAIN
            elif note.channel == PROMOTED:
                wakes.promoted = True
            elif note.channel == PING:
                wakes.pings.add(note.payload)
        return wakes

    def close(self) -> None:
        close_quietly(self.conn)


class PingCheck:
    """A NOTIFY the listener sends itself from the work connection must come back on the LISTEN
    connection before the next one is due; otherwise that connection is replaced. This catches the
    most reported queue failure: a LISTEN connection dead after a restart, silently degrading to the sweep."""

    def __init__(self, listener_id: str) -> None:
        self._listener_id = listener_id
        self._seq = itertools.count(1)
        self.outstanding: str | None = None

    def next_token(self) -> str:
        self.outstanding = f"{self._listener_id}#{next(self._seq)}"
        return self.outstanding

    def received(self, payloads: set[str]) -> None:
        # Every listener on the database shares the channel: only our own token counts.
        if self.outstanding in payloads:
            self.outstanding = None

    def reset(self) -> None:
        self.outstanding = None
