"""Fixtures for the API tests: an in-process app on a fresh database serving the stand-in models, and a
valid feature set."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from model_store.deployments import DeployedModel
from model_store.stand_ins import stand_in_models
from service.app import create_app
from service.settings import ApiSettings
from tests.employees import employee  # noqa: F401  (re-exported to the API tests)
from tests.logins import process_urls

T = TypeVar("T")


def api_settings(db_url: str, **overrides: Any) -> ApiSettings:
    """Settings on db_url; the app connects as the session's futurisys_api login role."""
    overrides.setdefault("api_database_url", process_urls(db_url).get("API_DATABASE_URL"))
    return ApiSettings(database_url=db_url, env="dev", **overrides)


async def stand_ins(_conn: psycopg.AsyncConnection[Any]) -> list[DeployedModel]:
    """The catalog's source in process: the stand-in models, whatever the database deploys."""
    return stand_in_models()


def stand_in_app(settings: ApiSettings) -> FastAPI:
    """The app for `settings`, listing and validating against the stand-in models (the catalog's seam)."""
    return create_app(settings, model_source=stand_ins)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to `app` in this event loop, with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app in process on the test's fresh database, serving the stand-in models."""
    async with in_process(stand_in_app(api_settings(db_url))) as c:
        yield c


COMPLETE = """
WITH r AS (
    UPDATE prediction_requests SET status = 'completed', completed_at = clock_timestamp()
    WHERE request_id = %(request_id)s RETURNING id
)
INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)
SELECT id, %(prediction)s, %(probability)s, 'v-test', repeat('0', 64) FROM r
"""


async def play_listener(db_url: str, request_id: str, prediction: int = 1, probability: float = 0.8) -> None:
    """Write a result the way the listener does (one committed transaction), firing the completion NOTIFY."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute(
            COMPLETE, {"request_id": request_id, "prediction": prediction, "probability": probability}
        )


async def eventually(probe: Callable[[], T | Awaitable[T]], what: str, timeout: float = 30.0) -> T:
    """Call (and await) `probe` until it returns something true, and return that; fail after `timeout`
    seconds (generous: on a busy machine a NOTIFY or a commit may take a while to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        await asyncio.sleep(0.02)
