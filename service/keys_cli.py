"""`python -m service keys create NAME | revoke NAME | list`: manage API keys (stored as SHA-256 only)."""

from __future__ import annotations

import sys

import psycopg

from service.repository.api_keys import active_key_count, create_key, list_keys, revoke_key

NO_KEY_IN_PROD = "ENV=prod needs at least one API key: python -m service keys create NAME"


def prod_without_keys(conninfo: str) -> bool:
    """True when the database answers and holds no active key (an unreachable one is checked later)."""
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            return active_key_count(conn) == 0
    except psycopg.OperationalError:
        return False


def run(conninfo: str, action: str, name: str | None, quiet: bool = False) -> int:
    """Carry out one keys action; print the result; return the exit code."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if action == "create":
            assert name is not None
            try:
                key = create_key(conn, name)
            except psycopg.errors.UniqueViolation:
                print(f"a key named {name!r} exists already (revoked keys keep their name)", file=sys.stderr)
                return 1
            print(key)
            if not quiet:
                print(f"API key {name!r} created; shown only now. Send it as X-API-Key.", file=sys.stderr)
        elif action == "revoke":
            assert name is not None
            if revoke_key(conn, name) is None:
                print(f"no active key named {name!r}", file=sys.stderr)
                return 1
            print(f"API key {name!r} revoked", file=sys.stderr)
        else:
            for key_name, created_at, revoked_at in list_keys(conn):
                state = f"revoked {revoked_at:%Y-%m-%d %H:%M:%S}" if revoked_at else "active"
                print(f"{key_name}\tcreated {created_at:%Y-%m-%d %H:%M:%S}\t{state}")
    return 0
