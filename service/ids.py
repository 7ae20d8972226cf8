"""Public request ids: UUID version 7 (RFC 9562), time-ordered.

Random (version 4) ids land on a random leaf of the `request_id` unique index, so with millions of
rows each insert touches a page that is likely out of cache; time-ordered ids all land on the
right-most leaf. The API picks the id itself so a waiter is registered before the row exists.
"""

from __future__ import annotations

import os
import time
from uuid import UUID


def new_request_id() -> UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then version, variant and 74 random bits."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return UUID(int=value)
