"""Model store fixtures: real artifacts trained once per session, and a registered copy per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model_store.data import TrainingData, load_attrition
from model_store.manifest import read_manifest
from model_store.registration import register_manifest
from model_store.training import Split, split_data


@pytest.fixture(scope="session")
def manifest(trained_store: Path) -> dict[str, Any]:
    return read_manifest(trained_store)


@pytest.fixture(scope="session")
def attrition() -> TrainingData:
    return load_attrition()


@pytest.fixture(scope="session")
def split(attrition: TrainingData) -> Split:
    return split_data(attrition)


@pytest.fixture(scope="session")
def test_rows(split: Split) -> list[dict[str, Any]]:
    """The held-out rows as the listener gets them: plain JSON-like dicts."""
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in split.X_test.to_dict("records")
    ]


@pytest.fixture
def registered(db_url: str, store: Path) -> tuple[str, Path]:
    """A fresh database with the store's manifest registered: (conninfo, store directory)."""
    register_manifest(db_url, store)
    return db_url, store
