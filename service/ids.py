"""Public request ids: UUID version 7 (RFC 9562), time-ordered.

Random (version 4) ids land on a random leaf of the `request_id` unique index, so with millions of
rows each insert touches a page that is likely out of cache; time-ordered ids all land on the
right-most leaf. The API picks the id itself so a waiter is registered before the row exists.
"""

from __future__ import annotations

import os
import time
from uuid import UUID

_VERSION_MASK = ~(0xF << 76) & ~(0x3 << 62)
_VERSION_BITS = (0x7 << 76) | (0x2 << 62)  # version 7, RFC 9562 variant


def _uuid7(millis: int, random: bytes) -> UUID:
    value = millis << 80 | int.from_bytes(random, "big")
    return UUID(int=(value & _VERSION_MASK) | _VERSION_BITS)


def new_request_id() -> UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then version, variant and 74 random bits."""
    return _uuid7(time.time_ns() // 1_000_000, os.urandom(10))


def new_request_ids(count: int) -> list[UUID]:
    """`count` UUIDv7s of this millisecond, from one read of the system's randomness (a batch's ids)."""
    millis = time.time_ns() // 1_000_000
    random = os.urandom(10 * count)
    return [_uuid7(millis, random[i : i + 10]) for i in range(0, 10 * count, 10)]
