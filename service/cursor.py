"""Opaque keyset cursors for /predictions/history: the id of the last row of the previous page."""

from __future__ import annotations

import base64
import binascii

from service.errors import invalid

_PREFIX = "v1:"
_MAX_ID = 2**63 - 1  # bigint


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row id a cursor points below; 422 naming `cursor` when it was not made by encode_cursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        digits = text.removeprefix(_PREFIX)
        if text.startswith(_PREFIX) and digits.isascii() and digits.isdigit() and int(digits) <= _MAX_ID:
            return int(digits)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid(("query", "cursor"), "not a cursor returned by this API (use next_cursor as is)")
