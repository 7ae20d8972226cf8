"""Writing to the registry tables: register a trained store, promote a model. Rows, never DDL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from model_store.errors import ModelError, UnknownModel
from model_store.manifest import read_manifest
from sql.queries import QUERIES


def register_manifest(conninfo: str, store_dir: Path) -> None:
    """Register every model of store_dir's manifest (idempotent) and deploy each at this version.

    The manifest's default model becomes the default unless some model already is.
    """
    manifest = read_manifest(Path(store_dir))
    with psycopg.connect(conninfo) as conn, conn.transaction():
        for entry in manifest["models"].values():
            register_version(conn, entry)
            conn.execute(
                QUERIES["deploy_version"], {"model_name": entry["name"], "version": entry["version"]}
            )
        conn.execute(QUERIES["set_default_if_none"], {"model_name": manifest["default_model"]})


def register_version(conn: psycopg.Connection[Any], entry: dict[str, Any]) -> None:
    """Insert one manifest entry into model_versions; a same-named version with other bytes is an error."""
    params = {
        "model_name": entry["name"],
        "version": entry["version"],
        "artifact_path": entry["file"],
        "sha256": entry["sha256"],
        "sklearn_version": entry["sklearn_version"],
        "threshold": entry["threshold"],
        "metrics": Jsonb(entry["metrics"]),
        "feature_schema": Jsonb(entry["feature_schema"]),
        "training_data_sha256": entry.get("training_data_sha256"),
        "trained_at": entry.get("trained_at"),
    }
    if conn.execute(QUERIES["insert_model_version"], params).fetchone() is not None:
        return
    row = conn.execute(QUERIES["model_version_sha256"], params).fetchone()
    if row is not None and row[0] != entry["sha256"]:
        raise ModelError(
            f"{entry['name']} version {entry['version']} is already registered with sha256 {row[0]}, "
            f"not {entry['sha256']}"
        )


def promote(
    conninfo: str,
    name: str,
    version: str | None = None,
    *,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Make `name` the default model, answering with `version` (default: its deployed, else newest, version).

    One transaction; the model_deployments trigger sends NOTIFY model_promoted at commit and records the
    promotion in audit_events with `actor` and `details` (reason, evidence, the gates' verdicts).
    Returns the version now deployed.
    """
    with psycopg.connect(conninfo) as conn, conn.transaction():
        if actor is not None or details:
            conn.execute(QUERIES["state_audit_context"], {"actor": actor, "details": Jsonb(details or {})})
        version = version or _current_or_newest(conn, name)
        if (
            conn.execute(QUERIES["model_version_sha256"], {"model_name": name, "version": version}).fetchone()
            is None
        ):
            known = [r[1] for r in conn.execute(QUERIES["list_model_versions"]).fetchall() if r[0] == name]
            raise ModelError(f"{name} has no registered version {version!r}; registered: {', '.join(known)}")
        conn.execute(QUERIES["clear_other_defaults"], {"model_name": name})
        conn.execute(QUERIES["promote_model"], {"model_name": name, "version": version})
    return version


def _current_or_newest(conn: psycopg.Connection[Any], name: str) -> str:
    for query in ("deployed_version", "newest_model_version"):
        row = conn.execute(QUERIES[query], {"model_name": name}).fetchone()
        if row is not None:
            return str(row[0])
    names = {r[0] for r in conn.execute(QUERIES["list_model_versions"]).fetchall()}
    raise UnknownModel(name, names)
