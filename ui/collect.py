"""Collecting a batch's answers: looked up in chunks, re-asking only the unfinished, until all are done.

No Streamlit here: the Batch page passes a progress callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ui.api_client import ApiError

TERMINAL = frozenset({"completed", "failed"})
LOOKUP_CHUNK = 1_000  # ids per POST /predictions/lookup (the API takes up to 10,000)
FIRST_PAUSE = 0.1
MAX_PAUSE = 1.0


class Lookup(Protocol):
    def lookup(self, request_ids: Sequence[str]) -> list[dict[str, Any] | None]: ...


@dataclass(frozen=True)
class Collected:
    items: list[dict[str, Any] | None]  # each request as last seen; None: not found (or never read)
    error: ApiError | None = None  # why collecting stopped early, if it did


def collect(
    api: Lookup,
    request_ids: Sequence[str],
    wait_seconds: float,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    chunk: int = LOOKUP_CHUNK,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Collected:
    """Every request as the API shows it, waiting (with a growing pause between rounds) up to
    `wait_seconds` for the pending and running ones; on_progress(done, total) after each chunk."""
    total = len(request_ids)
    items: list[dict[str, Any] | None] = [None] * total
    unfinished = list(range(total))
    deadline, pause = clock() + wait_seconds, FIRST_PAUSE
    try:
        while unfinished:
            still: list[int] = []
            for start in range(0, len(unfinished), chunk):
                part = unfinished[start : start + chunk]
                found = api.lookup([request_ids[i] for i in part])
                for index, item in zip(part, found, strict=True):
                    items[index] = item
                    if item is not None and item.get("status") not in TERMINAL:
                        still.append(index)
                if on_progress is not None:
                    unread = len(unfinished) - start - len(part)
                    on_progress(total - len(still) - unread, total)
            unfinished = still
            left = deadline - clock()
            if unfinished and left > 0:
                sleep(min(pause, left))
                pause = min(pause * 2, MAX_PAUSE)
            elif unfinished:
                break
    except ApiError as err:
        return Collected(items, err)
    return Collected(items)
