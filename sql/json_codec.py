"""JSON on the hot paths (features into and out of jsonb, batch items): orjson, with the standard
library's behaviour kept for what orjson refuses (integers beyond 64 bits).

`use_fast_json()` makes psycopg encode `Jsonb(...)` parameters and decode json/jsonb columns with it;
the API and the listener call it once at start (psycopg's JSON adapters are process-wide)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from psycopg.types.json import set_json_dumps, set_json_loads

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """`value` as JSON text (compact), as `json.dumps` would accept it."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library takes it
        return json.dumps(value, separators=(",", ":"))


def _dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits: the standard library takes it
        return json.loads(text)


def use_fast_json() -> None:
    """psycopg's json/jsonb adapters, this process: orjson both ways."""
    set_json_dumps(_dumps_bytes)
    set_json_loads(loads)
