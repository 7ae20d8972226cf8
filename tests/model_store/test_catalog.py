"""The API's read side: deployed models, default, per-model schema; no artifact loaded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
import pytest

from model_store import catalog
from model_store.errors import UnknownModel
from model_store.features import FEATURES, FeatureError, validate_features
from model_store.stand_ins import stand_in_models
from tests.model_store.test_features import valid_row


def test_catalog_lists_the_registered_models(registered: tuple[str, Path], manifest: dict[str, Any]) -> None:
    conninfo, _ = registered
    with psycopg.connect(conninfo) as conn:
        models = catalog.list_models(conn)
    assert [m.name for m in models] == sorted(manifest["models"])
    assert catalog.default_name(models) == "random_forest_e04"
    e04 = catalog.find_model(models, None)
    entry = manifest["models"]["random_forest_e04"]
    assert (e04.version, e04.sha256, e04.threshold) == (entry["version"], entry["sha256"], entry["threshold"])
    assert e04.metrics == entry["metrics"]
    item = e04.as_dict()
    assert {"name", "version", "default", "metrics", "threshold", "sha256", "feature_schema"} <= set(item)
    assert item["default"] is True and "artifact_path" not in item


def test_catalog_schema_validates_requests(registered: tuple[str, Path]) -> None:
    with psycopg.connect(registered[0]) as conn:
        models = catalog.list_models(conn)
    schema = catalog.feature_schema(models, "logistic")
    assert schema == FEATURES
    assert validate_features(valid_row(), schema)["age"] == 41
    with pytest.raises(FeatureError):
        validate_features(valid_row() | {"age": 3}, schema)
    meta = catalog.metadata(models)
    assert meta["model_name"] == "random_forest_e04" and meta["target"]["name"] == "attrition"
    assert [f["name"] for f in meta["features"]] == [f.name for f in FEATURES]


def test_catalog_unknown_model_lists_known_names(registered: tuple[str, Path]) -> None:
    with psycopg.connect(registered[0]) as conn:
        models = catalog.list_models(conn)
    with pytest.raises(UnknownModel, match="known: dummy, logistic, random_forest, random_forest_e04"):
        catalog.find_model(models, "svm")


def test_catalog_reads_through_an_async_connection(registered: tuple[str, Path]) -> None:
    async def read() -> list[str]:
        async with await psycopg.AsyncConnection.connect(registered[0]) as aconn:
            return [m.name for m in await catalog.list_models_async(aconn)]

    assert len(asyncio.run(read())) == 4


def test_the_stand_ins_deployed_list_has_the_catalogs_default() -> None:
    models = stand_in_models()  # what the API tests hand the app's catalog
    assert catalog.default_name(models) == "random_forest_e04"
    assert {m.version for m in models} == {"test-1"}
