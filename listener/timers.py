"""Periodic chores of the loop (sweep, heartbeat, connection check) as deadlines, not threads."""

from __future__ import annotations

import time


class Every:
    """A chore due every `interval` seconds; `due()` is checked between batches and bounds each wait."""

    def __init__(self, interval: float, *, due_now: bool = False) -> None:
        self.interval = interval
        self._next = time.monotonic() if due_now else time.monotonic() + interval

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def done(self) -> None:
        """The chore ran: next due one interval from now."""
        self._next = time.monotonic() + self.interval

    def now(self) -> None:
        """Make the chore due at once (e.g. after a reconnect)."""
        self._next = time.monotonic()

    def remaining(self) -> float:
        return max(0.0, self._next - time.monotonic())
