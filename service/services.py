"""The objects every route may use (pool, LISTEN hub, caches, metrics): one set per app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from service.auth import ApiKeys
from service.completions import CompletionHub
from service.db import make_pool
from service.deployed_models import ModelCatalog, ModelSource
from service.grouping import ReadGroups, SubmissionGroups
from service.metrics import ApiMetrics
from service.performance_metrics import LivePerformance
from service.settings import ApiSettings


@dataclass
class Services:
    settings: ApiSettings
    pool: AsyncConnectionPool
    hub: CompletionHub
    catalog: ModelCatalog
    keys: ApiKeys
    metrics: ApiMetrics
    performance: LivePerformance
    groups: SubmissionGroups  # single submissions that arrive together share one INSERT
    reads: ReadGroups  # and waiters woken together share one read


def build_services(settings: ApiSettings, conninfo: str, model_source: ModelSource | None = None) -> Services:
    """Unopened: the app's lifespan opens the pool and starts the hub. `model_source`: where the catalog
    reads the deployed models (default: the database's deployments)."""
    pool = make_pool(conninfo, settings)
    catalog = ModelCatalog(pool, model_source)
    keys = ApiKeys(pool, forced=settings.api_keys_required or settings.env == "prod")
    hub = CompletionHub(conninfo, on_models_changed=catalog.refresh, on_keys_changed=keys.refresh)
    metrics, performance = ApiMetrics(), LivePerformance(settings.performance_window_days)
    metrics.registry.register(performance)
    return Services(
        settings, pool, hub, catalog, keys, metrics, performance, SubmissionGroups(pool), ReadGroups(pool)
    )


async def get_services(request: Request) -> Services:
    # async: FastAPI would run a plain def dependency in a worker thread, on every request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
