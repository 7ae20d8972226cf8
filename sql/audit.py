"""Who acts, for the audit trail: the actor and reason code states before an audited change.

The triggers of sql/schema/010_audit_events.sql write the events; `state_actor` tells them who acts
(and why) for the rest of the current transaction. Command-line tools act as `cli:<os user>`, the
API as `key:<key name>`.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import psycopg

from sql.plans import Fetch, Plan, run
from sql.queries import QUERIES


def cli_actor() -> str:
    """`cli:<os user>`: how the audit trail names whoever runs an admin command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "unknown"
    return f"cli:{user}"


def stating_actor(actor: str, details: dict[str, Any] | None = None) -> Plan[None]:
    """Name the actor (and details such as a reason) of what this transaction does next: the one source
    of `state_actor` here and of the API's `acting_as` (service/repository/audit.py)."""
    yield Fetch(QUERIES["state_audit_actor"], {"actor": actor, "details": json.dumps(details or {})})


def state_actor(conn: psycopg.Connection, actor: str, details: dict[str, Any] | None = None) -> None:
    """Name the actor (and details such as a reason) of what this transaction does next."""
    run(conn, stating_actor(actor, details))
