"""`python -m model_store rollback [NAME]`: undo the last change of the default model (or of NAME's version)
in one transaction, read from the audit trail that recorded it; the same NOTIFY as a promotion switches the
running processes, and the trail records a model.rolled_back event with the rolled-back version's live
figures since that change as its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from model_store.errors import ModelError
from sql.audit import cli_actor, state_actor
from sql.named_queries import QUERIES


@dataclass(frozen=True)
class RolledBack:
    """What a rollback changed: the model (name, version) before, and the one answering now."""

    from_model: str
    from_version: str
    to_model: str
    to_version: str
    default: bool
    undid_event: int


def _deployed(conn: psycopg.Connection[Any], name: str) -> str:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(QUERIES["deployed_version"], {"model_name": name}).fetchone()
    if row is None:
        raise ModelError(f"{name} is not deployed: nothing to roll back")
    return str(row["version"])


def _target(name: str, version: str, details: dict[str, Any], default: bool) -> tuple[str, str, bool] | None:
    """(model, version, is the default change) the change recorded in `details` came from, if any."""
    previous = details.get("from_default")
    if default and previous:
        return str(previous["model"]), str(previous["version"]), True
    before = details.get("from_version")
    if before and before != version:
        return name, str(before), False
    return None


EVIDENCE = ("predictions", "labelled", "positives", "roc_auc", "pr_auc", "brier", "precision", "recall")


def live_since(conn: psycopg.Connection[Any], name: str, version: str, since: datetime) -> dict[str, Any]:
    """What the version rolled back did live since the change that brought it: the figures the operator
    had in front of them, kept with the rollback."""
    window = {"since": since, "until": datetime.now(UTC), "model_name": name, "bucket_seconds": None}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["performance_by_version"], window).fetchall()
    mine = next((r for r in rows if r["version"] == version), None)
    figures = {k: (mine[k] if mine else (0 if k in EVIDENCE[:3] else None)) for k in EVIDENCE}
    return {"model": name, "version": version, "since": since.isoformat(), **figures}


def rollback(
    conninfo: str, name: str | None = None, actor: str | None = None, reason: str | None = None
) -> RolledBack:
    """Return the default model (or `name`) to what answered before its last recorded change."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        with conn.cursor(row_factory=dict_row) as cur:
            current = cur.execute(QUERIES["current_default"]).fetchone()
        if name is None:
            if current is None:
                raise ModelError("no default model deployed: nothing to roll back")
            name, version = str(current["model_name"]), str(current["version"])
        else:
            version = _deployed(conn, name)
        is_default = current is not None and current["model_name"] == name
        with conn.cursor(row_factory=dict_row) as cur:
            event = cur.execute(
                QUERIES["last_change_to"], {"model_name": name, "version": version}
            ).fetchone()
        if event is None:
            raise ModelError(f"no recorded change brought {name} to {version}: nothing to roll back to")
        target = _target(name, version, event["details"], is_default)
        if target is None:
            raise ModelError(
                f"{name} {version} was the first {'default' if is_default else 'version'} recorded "
                f"(event {event['id']}, {event['action']}): nothing before it to roll back to"
            )
        to_model, to_version, default_change = target
        details: dict[str, Any] = {
            "action": "model.rolled_back",
            "undoes_event": event["id"],
            "evidence": live_since(conn, name, version, event["at"]),
        }
        if reason:
            details["reason"] = reason
        state_actor(conn, actor or cli_actor(), details)
        if default_change:
            conn.execute(QUERIES["clear_other_defaults"], {"model_name": to_model})
            conn.execute(QUERIES["promote_model"], {"model_name": to_model, "version": to_version})
        else:
            conn.execute(QUERIES["deploy_version"], {"model_name": name, "version": to_version})
    return RolledBack(name, version, to_model, to_version, default_change or is_default, event["id"])
