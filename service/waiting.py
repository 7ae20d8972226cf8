"""Waiting (`?wait=S`) for a request to reach completed or failed, woken by the CompletionHub."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from service.answers import answered
from service.completions import Waiter
from service.db import DATABASE_DOWN

log = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed"})


Read = Callable[[UUID], Awaitable["dict[str, Any] | None"]]


async def wait_until_done(
    read: Read,
    waiter: Waiter,
    request_id: UUID,
    seconds: float,
    read_first: bool = True,
    known: dict[str, Any] | None = None,
    from_notification: bool = True,
) -> dict[str, Any] | None:
    """The request's row once done, else its latest row when `seconds` run out; None if unknown.

    The waiter must be registered before the row is first read (for a fresh submission: before the
    insert), or a completion landing in between would be missed. `read_first=False` means the caller
    just inserted the row: no read until a wake or the deadline, and None when the row cannot be read.
    The row is read again at the deadline: a completion whose notification was lost (the LISTEN
    connection was down) is still answered. `read` is the API's grouped read (service/grouping.py).
    With `from_notification`, a wake-up whose notification carries the answer (schema 022) is answered
    from it and `known` (the request's columns; the first read's row when `read_first`) without a read
    (service/answers.py); any other wake-up re-reads.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    row = await read(request_id) if read_first else None
    if read_first:
        if row is None:
            return None
        known = row
    if not from_notification:
        known = None
    while row is None or row["status"] not in TERMINAL:
        remaining = deadline - loop.time()
        woken = remaining > 0 and await waiter.wait(remaining)
        if woken and known is not None and waiter.answer is not None:
            done = answered(known, waiter.answer)
            if done is not None:
                return done
        try:
            row = await read(request_id)
        except DATABASE_DOWN as exc:
            # The request is stored: answer with what is known (a 202), not a 503 that invites a duplicate.
            log.warning("could not re-read request %s while waiting: %s", request_id, exc)
            return row
        if row is None or not woken:
            return row
    return row
