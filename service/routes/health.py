"""/health: the database answers and every schema file is applied; 503 otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from psycopg_pool import PoolTimeout

from service.db import DATABASE_DOWN, accepts_connections
from service.errors import RETRY_AFTER_SECONDS
from service.repository.availability import unavailable_models_on
from service.repository.schema import pending_migrations
from service.schemas import Health
from service.services import ServicesDep
from sql.migrate import SchemaDrift

router = APIRouter(tags=["operations"])


@router.get("/health/live", responses={200: {"description": "The API process is up and serving."}})
async def live() -> Response:
    """Liveness only: the process answers HTTP (no database call). Readiness is `GET /health`."""
    return Response(b'{"status":"alive"}', 200, media_type="application/json")


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "Not ready."}})
async def health(svc: ServicesDep) -> JSONResponse:
    """200 when the database is reachable and its schema current (degraded while the LISTEN connection is
    down); 503 (with the reason: busy, unreachable, schema not current) otherwise."""
    report = Health(
        status="unavailable",
        database="reachable",
        migrations="unknown",
        pending_migrations=[],
        listening=svc.hub.connected,
        listening_down_seconds=svc.hub.down_seconds(),
    )
    try:
        async with svc.pool.connection() as conn:
            report.pending_migrations = await pending_migrations(conn)
            if not report.pending_migrations:
                unavailable = await unavailable_models_on(conn, svc.settings.api_listener_alive_seconds)
                report.unavailable_models = {name: u.reason for name, u in unavailable.items()}
        report.migrations = "pending" if report.pending_migrations else "current"
    except SchemaDrift as exc:
        report.migrations, report.detail = "drift", str(exc)
    except PoolTimeout:
        if await accepts_connections(svc.pool.conninfo):
            report.status, report.database = "busy", "busy"
            report.detail = f"every pooled connection in use for {svc.settings.api_pool_timeout_seconds:g} s"
        else:  # the pool timed out because it cannot open a connection at all
            report.database, report.detail = "unreachable", "database unreachable"
    except DATABASE_DOWN:
        report.database, report.detail = "unreachable", "database unreachable"
    if report.migrations == "pending":
        report.detail = "schema files not applied: run python -m sql"
    if report.migrations == "current":
        report.status = "ok" if report.listening and not report.unavailable_models else "degraded"
        report.detail = "; ".join(_degraded(report)) or None
    if report.status in ("busy", "unavailable"):
        return JSONResponse(report.model_dump(mode="json"), 503, {"Retry-After": RETRY_AFTER_SECONDS})
    return JSONResponse(report.model_dump(mode="json"), 200)


def _degraded(report: Health) -> list[str]:
    reasons = []
    if not report.listening:
        reasons.append(
            "LISTEN connection down, reconnecting: ?wait answers at its deadline, not at completion"
        )
    if report.unavailable_models:
        names = ", ".join(report.unavailable_models)
        reasons.append(f"model(s) {names} cannot be loaded now (the listener retries by itself)")
    return reasons
