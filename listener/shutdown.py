"""A shutdown event a signal handler may set, and that interrupts the listener's waits at once."""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Sequence


class ShutdownEvent:
    """A flag plus a self-pipe: `set()` is safe from a signal handler, and `wait()` returns as soon as it is
    called, even while blocked in select() on a database socket (no polling with short timeouts)."""

    def __init__(self) -> None:
        self._flag = False
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    def set(self) -> None:
        self._flag = True
        with contextlib.suppress(BlockingIOError):  # the pipe is full: already woken
            os.write(self._write_fd, b"x")

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None, fds: Sequence[int] = ()) -> list[int]:
        """Block until one of `fds` is readable, the event is set, or `timeout` passes.

        Returns the readable fds among `fds` (empty on timeout or shutdown)."""
        if self._flag:
            return []
        timeout = None if timeout is None else max(0.0, timeout)
        readable, _, _ = select.select([self._read_fd, *fds], [], [], timeout)
        return [fd for fd in readable if fd != self._read_fd]

    def sleep(self, seconds: float) -> None:
        """Sleep, unless the event is set (or gets set meanwhile)."""
        self.wait(seconds)
