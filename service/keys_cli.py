"""`python -m service keys create NAME [--scope S] | revoke NAME | list`: manage API keys (stored as
SHA-256 only). Each create and revoke is recorded in audit_events as done by `cli:<os user>`."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import psycopg

from service.repository.api_keys import (
    DEFAULT_SCOPES,
    active_digests,
    checked_scopes,
    create_key,
    key_digest,
    list_keys,
    revoke_key,
)
from sql.audit import cli_actor, state_actor
from sql.named_queries import QUERIES

NO_KEY_IN_PROD = "ENV=prod needs at least one API key: python -m service keys create NAME"
DEV_KEY_PREFIX = "make-run-"
# make run's dashboard submits and reads every request.
DEV_KEY_SCOPES = ("submit", "read")


def parse_scopes(values: list[str] | None) -> list[str]:
    """`--scope read --scope submit` or `--scope read,submit`; submit when none is given."""
    return checked_scopes(",".join(values).split(",") if values else DEFAULT_SCOPES)


def run(
    conninfo: str, action: str, name: str | None, quiet: bool = False, scopes: list[str] | None = None
) -> int:
    """Carry out one keys action; print the result; return the exit code."""
    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if action == "create":
            assert name is not None
            try:
                with conn.transaction():
                    state_actor(conn, cli_actor())
                    key = create_key(conn, name, wanted)
            except psycopg.errors.UniqueViolation:
                print(f"a key named {name!r} exists already (revoked keys keep their name)", file=sys.stderr)
                return 1
            print(key)
            if not quiet:
                print(
                    f"API key {name!r} created with scope {', '.join(wanted)}; shown only now."
                    " Send it as X-API-Key.",
                    file=sys.stderr,
                )
        elif action == "revoke":
            assert name is not None
            with conn.transaction():
                state_actor(conn, cli_actor())
                revoked = revoke_key(conn, name)
            if revoked is None:
                print(f"no active key named {name!r}", file=sys.stderr)
                return 1
            print(f"API key {name!r} revoked", file=sys.stderr)
        else:
            for k in list_keys(conn):
                state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M:%S}" if k.revoked_at else "active"
                print(f"{k.name}\t{','.join(k.scopes)}\tcreated {k.created_at:%Y-%m-%d %H:%M:%S}\t{state}")
    return 0


def development_key(conninfo: str, key_file: Path) -> tuple[str, bool]:
    """`make run`'s one development key (scopes submit and read, for the dashboard): the one in
    `key_file` while it is active, else a new one.

    A new key is written to `key_file` readable by its owner only. Any other active development key
    is revoked, so runs do not pile keys up. Returns (key, whether it was created now).
    """
    old = key_file.read_text().strip() if key_file.is_file() else ""
    with psycopg.connect(conninfo) as conn:
        state_actor(conn, cli_actor(), {"reason": "make run development key"})
        active = active_digests(conn)
        created = not old or key_digest(old) not in active
        name = DEV_KEY_PREFIX + f"{datetime.now():%Y%m%d-%H%M%S-%f}"
        key = create_key(conn, name, DEV_KEY_SCOPES) if created else old
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
