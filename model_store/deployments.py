"""Which version answers for each model name: rows of model_deployments joined to model_versions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from model_store.errors import ModelError
from model_store.registered_metrics import with_cv
from sql.named_queries import QUERIES
from sql.plans import Fetch, Plan, run, run_async


@dataclass(frozen=True)
class DeployedModel:
    """A deployed model as registered: what the API lists and what the registry loads."""

    name: str
    version: str
    default: bool
    sha256: str
    threshold: float
    sklearn_version: str
    artifact_path: str
    metrics: dict[str, Any] = field(default_factory=dict, compare=False)
    feature_schema: list[dict[str, Any]] = field(default_factory=list, compare=False)
    trained_at: str | None = None
    # What the version was fitted on (schema 018; None for a version registered before it).
    training_data_sha256: str | None = None
    training_source: str | None = None
    training_rows: int | None = None
    training_positives: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able view for clients (GET /models/): everything but the file path."""
        return {
            "name": self.name,
            "version": self.version,
            "default": self.default,
            "sha256": self.sha256,
            "threshold": self.threshold,
            "sklearn_version": self.sklearn_version,
            "trained_at": self.trained_at,
            "metrics": self.metrics,
            "feature_schema": self.feature_schema,
        }


def flagged_default(models: Iterable[DeployedModel]) -> str | None:
    """The name of the model the deployments flag as the default; None when none is."""
    return next((m.name for m in models if m.default), None)


def no_default_deployed(names: Iterable[str]) -> ModelError:
    """The error for deployments without a default, listing the deployed names."""
    return ModelError(f"no default model deployed; deployed: {', '.join(names) or 'none'}")


def default_name(models: Iterable[DeployedModel]) -> str:
    """Name of the default model; ModelError when none is deployed."""
    models = list(models)
    name = flagged_default(models)
    if name is None:
        raise no_default_deployed(m.name for m in models)
    return name


def from_row(row: Mapping[str, Any]) -> DeployedModel:
    """One row of the `list_deployed_models` query as a DeployedModel."""
    trained_at = row.get("trained_at")
    return DeployedModel(
        name=row["model_name"],
        version=row["version"],
        default=bool(row["is_default"]),
        sha256=row["sha256"],
        threshold=float(row["threshold"]),
        sklearn_version=row["sklearn_version"],
        artifact_path=row["artifact_path"],
        metrics=with_cv(row.get("metrics") or {}),
        feature_schema=row.get("feature_schema") or [],
        trained_at=trained_at.isoformat() if isinstance(trained_at, datetime) else trained_at,
        training_data_sha256=row.get("training_data_sha256"),
        training_source=row.get("training_source"),
        training_rows=row.get("training_rows"),
        training_positives=row.get("training_positives"),
    )


def from_rows(rows: Iterable[Mapping[str, Any]]) -> list[DeployedModel]:
    """Rows of `list_deployed_models` (dicts) as DeployedModels, in name order."""
    return sorted((from_row(r) for r in rows), key=lambda m: m.name)


def deployed_models() -> Plan[list[DeployedModel]]:
    """Read the deployed models: the one source of `fetch_deployed` and `fetch_deployed_async`."""
    rows = yield Fetch(QUERIES["list_deployed_models"])
    return from_rows(rows)


def fetch_deployed(conn: psycopg.Connection[Any]) -> list[DeployedModel]:
    """Read the deployed models through a psycopg connection."""
    return run(conn, deployed_models())


async def fetch_deployed_async(aconn: psycopg.AsyncConnection[Any]) -> list[DeployedModel]:
    """Read the deployed models through a psycopg async connection (the API's pool)."""
    return await run_async(aconn, deployed_models())
