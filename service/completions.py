"""One LISTEN connection per API process: wakes the callers waiting (`?wait=S`) for a request.

`prediction_completed` carries the public request uuid, since schema 022 often followed by the answer
(`|c|...` or `|f|...`, sql/schema/022_completion_payload.sql); each waiter is keyed by the uuid and keeps
the answer of its latest wake (service/answers.py builds the response from it), so a thousand waiting
callers cost a thousand futures, not a thousand connections. Between two pings one reader callback on
the socket dispatches what arrives (`_hear`). The same connection hears `model_promoted` and
`api_keys_changed` and calls the matching refresh callback.
After a lost connection the loop reconnects with backoff and jitter (promptly while anyone waits),
then wakes every waiter so each re-reads its row (a completion sent while nobody listened is otherwise
lost); waiters also re-read at their deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

import psycopg

from sql.backoff import Backoff
from sql.named_queries import QUERIES

log = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[None]]
# How a DBA tells this connection apart in pg_stat_activity.
APPLICATION_NAME = "futurisys-api-listen"
UUID_TEXT = 36  # len(str(uuid)): PostgreSQL's uuid::text and Python's str(UUID) agree


class Waiter:
    """Set when the request it watches may have finished; the caller re-reads the row then, or answers
    from `answer`: what the latest wake-up's notification said after the uuid (None when it said
    nothing more, or the wake-up came from a reconnect).

    A future and a timer, not `asyncio.wait_for` on an Event (a task per wait): a wait is on the path
    of every submit-and-wait."""

    def __init__(self) -> None:
        self._woken = False
        self._future: asyncio.Future[bool] | None = None
        self.answer: str | None = None

    def wake(self, answer: str | None = None) -> None:
        self._woken = True
        self.answer = answer
        if self._future is not None and not self._future.done():
            self._future.set_result(True)

    async def wait(self, seconds: float) -> bool:
        """True when woken within `seconds` (and re-armed for the next wait), False on timeout."""
        if not self._woken:
            loop = asyncio.get_running_loop()
            self._future = future = loop.create_future()
            timer = loop.call_later(seconds, _time_out, future)
            try:
                if not await future:
                    return False
            finally:
                timer.cancel()
                self._future = None
        self._woken = False
        return True


def _time_out(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(False)


class CompletionHub:
    """Owns the LISTEN connection and the waiters; `start()` in lifespan startup, `stop()` at shutdown."""

    def __init__(
        self,
        conninfo: str,
        on_models_changed: Refresh | None = None,
        on_keys_changed: Refresh | None = None,
        ping_seconds: float = 5.0,
        max_backoff_seconds: float = 5.0,
        waiting_backoff_seconds: float = 0.25,
    ) -> None:
        self._conninfo = conninfo
        self._refresh = {"model_promoted": on_models_changed, "api_keys_changed": on_keys_changed}
        self._ping_seconds = ping_seconds
        self._max_backoff = max_backoff_seconds
        self._waiting_backoff = waiting_backoff_seconds
        self._waiters: dict[str, set[Waiter]] = {}
        self._someone_waits = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.connected = False
        self.down_since: float | None = None  # loop.time() when the connection was lost (or never made)

    @contextmanager
    def watch(self, request_id: UUID | str) -> Iterator[Waiter]:
        """Register a waiter for `request_id` for the duration of the block."""
        key = str(request_id)
        waiter = Waiter()
        self._waiters.setdefault(key, set()).add(waiter)
        self._someone_waits.set()
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[key]

    @property
    def waiting(self) -> int:
        """How many requests have someone waiting on them."""
        return len(self._waiters)

    def down_seconds(self) -> float | None:
        """How long the LISTEN connection has been down; None while it is up."""
        if self.connected or self.down_since is None:
            return None
        return asyncio.get_running_loop().time() - self.down_since

    def start(self) -> None:
        self.down_since = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run(), name="completion-listener")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.connected = False

    def _wake(self, key: str, answer: str | None) -> None:
        for waiter in self._waiters.get(key, ()):
            waiter.wake(answer)

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.wake()

    def _call(self, refresh: Refresh | None) -> None:
        if refresh is None:
            return
        task = asyncio.create_task(self._guarded(refresh))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _guarded(refresh: Refresh) -> None:
        try:
            await refresh()
        except Exception as exc:  # a failed refresh must not kill the listen loop
            log.warning("refresh after notification failed: %s", exc)

    async def _run(self) -> None:
        backoff = Backoff(base=0.1, cap=self._max_backoff)
        while True:
            try:
                await self._listen()
            except Exception as exc:  # the loop outlives any error: it is how waits recover
                if self.connected:
                    log.warning("LISTEN connection lost (%s); reconnecting", exc)
                    self.down_since = asyncio.get_running_loop().time()
                    backoff.reset()
            self.connected = False
            await self._pause(backoff.next_delay())

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds` before the next attempt, but no longer than the waiting backoff while anyone
        waits (also for one who starts waiting during the sleep): a waiter must not sit out the backoff."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        if not self._waiters:
            self._someone_waits.clear()
            try:
                await asyncio.wait_for(self._someone_waits.wait(), seconds)
            except TimeoutError:
                return
        await asyncio.sleep(max(0.0, min(seconds, self._waiting_backoff) - (loop.time() - started)))

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=3, application_name=APPLICATION_NAME
        ) as conn:
            # Notifications that arrive while a statement runs (the LISTEN, a ping) come through here.
            conn.add_notify_handler(self._dispatch)
            await conn.execute(QUERIES["listen_api_channels"])
            self.connected = True
            log.info("listening for completions")
            # Whatever happened while nobody listened: waiters re-read, caches reload.
            self._wake_all()
            for refresh in self._refresh.values():
                self._call(refresh)
            while True:
                await self._hear(conn, self._ping_seconds)
                await asyncio.wait_for(conn.execute(QUERIES["ping_database"]), self._ping_seconds)

    async def _hear(self, conn: psycopg.AsyncConnection, seconds: float) -> None:
        """Dispatch the notifications that arrive within `seconds`; raises when the connection is lost.

        One reader callback on the socket for the whole period, not `conn.notifies()`: that waits for
        each notification anew (a reader added and removed, a timer and a future, a task step through
        its generators), on the path of every submit-and-wait. Between two pings nothing else uses the
        connection, so reading it directly (libpq's consume_input and notifies) cannot race a statement."""
        loop = asyncio.get_running_loop()
        pgconn = conn.pgconn
        encoding = conn.info.encoding
        over: asyncio.Future[bool] = loop.create_future()

        def readable() -> None:
            try:
                pgconn.consume_input()
                while (note := pgconn.notifies()) is not None:
                    self._dispatch_text(note.relname.decode(encoding), note.extra.decode(encoding))
            except Exception as exc:  # the connection is lost (or a dispatch failed): reconnect
                if not over.done():
                    over.set_exception(exc)

        readable()  # what the last statement's read left in libpq's buffer
        fd = pgconn.socket
        loop.add_reader(fd, readable)
        timer = loop.call_later(seconds, _time_out, over)
        try:
            await over
        finally:
            timer.cancel()
            loop.remove_reader(fd)

    def _dispatch(self, note: psycopg.Notify) -> None:
        self._dispatch_text(note.channel, note.payload)

    def _dispatch_text(self, channel: str, payload: str) -> None:
        if channel == "prediction_completed":
            # "<uuid>" (before schema 022, or when the waiter must re-read) or "<uuid>|<answer>".
            self._wake(payload[:UUID_TEXT], payload[UUID_TEXT + 1 :] or None)
        else:
            self._call(self._refresh.get(channel))
