"""Who acts, for the audit trail: the actor and reason code states before an audited change.

The triggers of sql/schema/010_audit_events.sql write the events; `state_actor` tells them who acts
(and why) for the rest of the current transaction. Command-line tools act as `cli:<os user>`, the
API as `key:<key name>`.
"""

from __future__ import annotations

import getpass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sql.named_queries import QUERIES


def cli_actor() -> str:
    """`cli:<os user>`: how the audit trail names whoever runs an admin command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "unknown"
    return f"cli:{user}"


def state_actor(conn: psycopg.Connection, actor: str | None, details: dict[str, Any] | None = None) -> None:
    """Name the actor (and details such as a reason) of what this transaction does next; None: nobody
    named (the trail's default actor)."""
    conn.execute(QUERIES["state_audit_actor"], {"actor": actor, "details": Jsonb(details or {})})
