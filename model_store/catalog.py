"""The API's view of the models: what is deployed, the default, each model's feature schema.

Reads rows only; never loads an artifact. Fetch once (sync or async connection), then use the
pure functions on the list; refetch on NOTIFY model_promoted. Tests that want other models deploy them
(model_store/stand_ins.py writes a store to register) or hand the API's catalog their own list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from model_store.deployments import DeployedModel, default_name, fetch_deployed, fetch_deployed_async
from model_store.errors import UnknownModel
from model_store.features import TARGET, TARGET_DESCRIPTION, Feature, schema_from_json, with_defaults

__all__ = [
    "DeployedModel",
    "UnknownModel",
    "default_name",
    "feature_schema",
    "find_model",
    "list_models",
    "list_models_async",
    "metadata",
]


def list_models(conn: psycopg.Connection[Any]) -> list[DeployedModel]:
    """Deployed models by name."""
    return fetch_deployed(conn)


async def list_models_async(aconn: psycopg.AsyncConnection[Any]) -> list[DeployedModel]:
    """Deployed models by name, through an async connection."""
    return await fetch_deployed_async(aconn)


def find_model(models: Sequence[DeployedModel], name: str | None) -> DeployedModel:
    """The deployed model called `name` (None: the default); UnknownModel lists the known names."""
    wanted = default_name(models) if name is None else name
    for m in models:
        if m.name == wanted:
            return m
    raise UnknownModel(wanted, [m.name for m in models])


def feature_schema(models: Sequence[DeployedModel], name: str | None) -> tuple[Feature, ...]:
    """The schema to validate a request for `name` with (pass it to features.validate_features)."""
    return schema_from_json(find_model(models, name).feature_schema)


def metadata(models: Sequence[DeployedModel], name: str | None = None) -> dict[str, Any]:
    """What GET /metadata/ serves for one model: its features (each with a typical `default`, borrowed
    from the code's schema for artifacts trained before defaults existed), the target, threshold, version."""
    model = find_model(models, name)
    return {
        "model_name": model.name,
        "version": model.version,
        "threshold": model.threshold,
        "target": {"name": TARGET, "description": TARGET_DESCRIPTION, "positive": 1},
        "features": with_defaults(model.feature_schema),
    }
