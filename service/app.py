"""The FastAPI application: wiring of the pool, the LISTEN hub, the caches, the routes and handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from service import errors
from service.db import DATABASE_DOWN, SCHEMA_BEHIND
from service.deployed_models import ModelSource
from service.keys_cli import NO_KEY_IN_PROD
from service.metrics import HttpMetricsMiddleware
from service.routes import (
    audit,
    explanations,
    health,
    metadata,
    metrics,
    models,
    monitoring,
    outcomes,
    performance,
    predictions,
    shadows,
)
from service.routing import Lane, PlainLanes
from service.services import Services, build_services
from service.settings import ApiSettings, get_api_settings
from sql.json_codec import use_fast_json

log = logging.getLogger(__name__)

DESCRIPTION = """HR-attrition predictions, DB-first: a submission is a row in PostgreSQL that a listener
answers. Submit with `POST /predictions/request` (add `?wait=S` to get the answer in the same call),
read it back with `GET /predictions/{request_id}`."""


class Api(FastAPI):
    plain_lanes: tuple[Lane, ...] = ()

    def build_middleware_stack(self) -> ASGIApp:
        # Outside FastAPI's body limit, which adds itself outside every add_middleware one.
        stack = errors.JsonTooLarge(super().build_middleware_stack())
        for lane in self.plain_lanes:  # a lane names its route's path: refuse one that drifted
            if self.url_path_for(lane.endpoint.__name__) != lane.path:
                raise RuntimeError(f"plain lane {lane.path} is not {lane.endpoint.__name__}'s path")
        return PlainLanes(stack, self, self.state.services.metrics, self.plain_lanes)


class StartupRefused(RuntimeError):
    """The API must not serve in this configuration (ENV=prod without any API key)."""


async def _warm_up(svc: Services) -> None:
    """Load the caches now if the database answers; otherwise the first request that needs them will."""
    try:
        await svc.keys.refresh()
        await svc.catalog.refresh()
    except (*DATABASE_DOWN, *SCHEMA_BEHIND) as exc:
        log.warning("database not ready at startup (%s): answering 503 until it is", exc)
        return
    if svc.settings.env == "prod" and svc.keys.active == 0:
        raise StartupRefused(NO_KEY_IN_PROD)


def create_app(
    settings: ApiSettings | None = None,
    conninfo: str | None = None,
    on_shutdown: Callable[[], None] | None = None,
    model_source: ModelSource | None = None,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    """The app for `settings` (default: the environment's), talking to `conninfo` (default
    API_DATABASE_URL, else DATABASE_URL); `model_source` replaces the deployments it describes (tests'
    stand-ins); `on_started` is called once the startup is done, before the first request."""
    settings = settings or get_api_settings()
    conninfo = conninfo or settings.url_for("api")
    if not conninfo:
        raise ValueError("neither API_DATABASE_URL nor DATABASE_URL is set")
    use_fast_json()
    svc = build_services(settings, conninfo, model_source)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.pool.open(wait=False)
        svc.hub.start()
        try:
            await _warm_up(svc)
            if on_started is not None:
                on_started()
            yield
        finally:
            await svc.hub.stop()
            await svc.pool.close()
            if on_shutdown is not None:
                on_shutdown()

    app = Api(
        title="Futurisys attrition predictions",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        max_body_size=settings.api_max_body_bytes,
    )
    app.state.services = svc
    errors.install(app)
    for module in (predictions, explanations, shadows, models, metadata, monitoring, health, metrics):
        app.include_router(module.router)
    for module in (outcomes, performance):  # the loop from answers to their truth
        app.include_router(module.router)
    app.include_router(audit.router)  # the trail of admin actions
    app.add_middleware(HttpMetricsMiddleware, metrics=svc.metrics)
    app.plain_lanes = (predictions.SUBMIT_LANE,)
    return app
