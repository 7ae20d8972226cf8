"""Writing to the registry tables: register a trained store, promote a model. Rows, never DDL."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from model_store.errors import ModelError, UnknownModel
from model_store.manifest import read_manifest
from sql.audit import state_actor
from sql.named_queries import QUERIES


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


def register_versions(conninfo: str, manifest: dict[str, Any]) -> None:
    """Register a manifest's models as new versions, deploying none (the current ones keep answering)."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        for entry in manifest["models"].values():
            register_version(conn, entry)


TRAINING_FACTS = ("training_source", "training_rows", "training_positives", "reference")


def register_version(conn: psycopg.Connection[Any], entry: dict[str, Any]) -> None:
    """Insert one manifest entry into model_versions; a same-named version with other bytes is an error.

    A version already registered without what it was fitted on (before schema 018) gets it now, once.
    """
    facts = training_facts(entry)
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
        **facts,
        "reference": None if facts["reference"] is None else Jsonb(facts["reference"]),
    }
    if conn.execute(QUERIES["insert_model_version"], params).fetchone() is not None:
        return
    row = conn.execute(QUERIES["model_version_sha256"], params).fetchone()
    if row is not None and row[0] != entry["sha256"]:
        raise ModelError(
            f"{entry['name']} version {entry['version']} is already registered with sha256 {row[0]}, "
            f"not {entry['sha256']}"
        )
    if facts["reference"] is not None:
        conn.execute(QUERIES["fill_model_version_training"], params)


def training_facts(entry: dict[str, Any]) -> dict[str, Any]:
    """What `entry` says it was fitted on: source, counts and drift reference (None each when unknown).

    An entry of a manifest written before references were stored has none; when its training data
    fingerprint is the packaged data set's, they are the packaged data's (the fingerprint proves it).
    """
    if entry.get("reference") is not None:
        reference = entry["reference"]
        if reference.get("training_data_sha256") != entry.get("training_data_sha256"):
            raise ModelError(
                f"{entry['name']} version {entry['version']}: its drift reference describes training data "
                f"{reference.get('training_data_sha256')}, not its own {entry.get('training_data_sha256')}"
            )
        return {k: entry.get(k) for k in TRAINING_FACTS}
    recorded = entry.get("training_data_sha256")
    if recorded is not None and recorded == (packaged := _packaged_facts())["training_data_sha256"]:
        return {k: packaged[k] for k in TRAINING_FACTS}
    return dict.fromkeys(TRAINING_FACTS)


@lru_cache(maxsize=1)
def _packaged_facts() -> dict[str, Any]:
    # Imported on use: only entries of earlier manifests need the packaged data (pandas, scikit-learn).
    from model_store.data import load_attrition
    from model_store.training import trained_on

    return trained_on(load_attrition())


def promote(
    conninfo: str,
    name: str,
    version: str | None = None,
    *,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Make `name` the default model, answering with `version` (default: its deployed, else newest, version).

    One transaction; the model_deployments trigger sends NOTIFY model_promoted at commit and writes the
    audit event (model.promoted, from/to versions) carrying `actor` and `details` (reason, gate evidence).
    A promotion that changes no version (only the default) is audited by the same trigger (schema 012), with
    `from_default` naming the model and version it replaced.
    Returns the version now deployed.
    """
    with psycopg.connect(conninfo) as conn, conn.transaction():
        version = registered_version(conn, name, version)
        if actor is not None or details is not None:
            state_actor(conn, actor, details)
        conn.execute(QUERIES["clear_other_defaults"], {"model_name": name})
        conn.execute(QUERIES["promote_model"], {"model_name": name, "version": version})
    return version


def current_default(conninfo: str) -> tuple[str, str] | None:
    """(name, version) of the default model, None when no model is the default."""
    with psycopg.connect(conninfo) as conn, conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(QUERIES["list_deployed_models"]).fetchall():
            if row["is_default"]:
                return str(row["model_name"]), str(row["version"])
    return None


def resolve_version(conninfo: str, name: str, version: str | None) -> str:
    """`version`, else the deployed, else the newest registered version of `name`."""
    if version:
        return version
    with psycopg.connect(conninfo) as conn:
        return registered_version(conn, name, None)


def registered_version(conn: psycopg.Connection[Any], name: str, version: str | None) -> str:
    """`version` of `name` if registered (ModelError naming the registered ones if not), else (None) its
    deployed version, else its newest one (UnknownModel when `name` has none)."""
    with conn.cursor(row_factory=dict_row) as cur:
        if version is not None:
            wanted = {"model_name": name, "version": version}
            if cur.execute(QUERIES["model_version_sha256"], wanted).fetchone():
                return version
            versions = cur.execute(QUERIES["list_model_versions"]).fetchall()
            known = [r["version"] for r in versions if r["model_name"] == name]
            raise ModelError(
                f"{name} has no registered version {version!r}; registered: {', '.join(known) or 'none'}"
            )
        for query in ("deployed_version", "newest_model_version"):
            row = cur.execute(QUERIES[query], {"model_name": name}).fetchone()
            if row is not None:
                return str(row["version"])
        names = {r["model_name"] for r in cur.execute(QUERIES["list_model_versions"]).fetchall()}
    raise UnknownModel(name, names)
