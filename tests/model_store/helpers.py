"""Test helpers: extra artifact versions registered by hand (what a retrain would add)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import sklearn

from model_store.data import TrainingData
from model_store.features import schema_as_json
from model_store.manifest import artifact_file, sha256_hex, version_for
from model_store.pipelines import build_pipeline
from model_store.registration import register_version
from model_store.training import artifact_bytes


def add_logistic_version(conninfo: str, store: Path, data: TrainingData, C: float) -> dict[str, Any]:
    """Fit a logistic pipeline with another C, write it into the store, register it (not deployed)."""
    pipeline = build_pipeline("logistic").set_params(model__C=C).fit(data.X, data.y)
    blob = artifact_bytes(pipeline)
    sha = sha256_hex(blob)
    entry = entry_for("logistic", version_for(sha), sha, threshold=0.5)
    (store / entry["file"]).write_bytes(blob)
    register(conninfo, entry)
    return entry


def entry_for(
    name: str, version: str, sha256: str, threshold: float, file: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "file": file or artifact_file(name, version),
        "sha256": sha256,
        "sklearn_version": sklearn.__version__,
        "threshold": threshold,
        "metrics": {},
        "feature_schema": schema_as_json(),
        "training_data_sha256": None,
        "trained_at": None,
    }


def register(conninfo: str, entry: dict[str, Any]) -> None:
    with psycopg.connect(conninfo) as conn:
        register_version(conn, entry)
