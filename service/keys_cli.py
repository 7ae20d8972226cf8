"""`python -m service keys create NAME | revoke NAME | list`: manage API keys (stored as SHA-256 only)."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import psycopg

from service.repository.api_keys import active_key_count, create_key, key_digest, list_keys, revoke_key
from sql.queries import QUERIES

NO_KEY_IN_PROD = "ENV=prod needs at least one API key: python -m service keys create NAME"
DEV_KEY_PREFIX = "make-run-"


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


def development_key(conninfo: str, key_file: Path) -> tuple[str, bool]:
    """`make run`'s one development key: the one in `key_file` while it is active, else a new one.

    A new key is written to `key_file` readable by its owner only. Any other active development key
    is revoked, so runs do not pile keys up. Returns (key, whether it was created now).
    """
    old = key_file.read_text().strip() if key_file.is_file() else ""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        active = {digest for digest, is_active in conn.execute(QUERIES["api_key_hashes"]) if is_active}
        created = not old or key_digest(old) not in active
        key = create_key(conn, DEV_KEY_PREFIX + f"{datetime.now():%Y%m%d-%H%M%S-%f}") if created else old
        conn.execute(
            QUERIES["revoke_other_development_keys"],
            {"prefix": DEV_KEY_PREFIX, "keep_sha256": key_digest(key)},
        )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when an older run left the file readable by others
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key, created
