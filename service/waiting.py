"""Waiting (`?wait=S`) for a request to reach completed or failed, woken by the CompletionHub."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from service.completions import Waiter
from service.repository.requests import get_prediction

TERMINAL = frozenset({"completed", "failed"})


async def wait_until_done(
    pool: AsyncConnectionPool, waiter: Waiter, request_id: UUID, seconds: float, read_first: bool = True
) -> dict[str, Any] | None:
    """The request's row once done, else its latest row when `seconds` run out; None if unknown.

    The waiter must be registered before the row is first read (for a fresh submission: before the
    insert), or a completion landing in between would be missed. `read_first=False` means the caller
    just inserted the row: no read until a wake, and None when none comes.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    row = await get_prediction(pool, request_id) if read_first else None
    if read_first and row is None:
        return None
    while row is None or row["status"] not in TERMINAL:
        remaining = deadline - loop.time()
        if remaining <= 0 or not await waiter.wait(remaining):
            return row
        row = await get_prediction(pool, request_id)
        if row is None:
            return None
    return row
