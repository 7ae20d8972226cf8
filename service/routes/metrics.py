"""/metrics: Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.services import ServicesDep

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics."}},
)
async def metrics(svc: ServicesDep) -> Response:
    """HTTP counts and latencies per route, submissions per model, queue depth, result latency, listeners,
    and each model version's live figures against the posted outcomes (model_live_*)."""
    await svc.performance.refresh(svc.pool)
    body = await svc.metrics.scrape(svc.pool, svc.settings.api_listener_alive_seconds, svc.hub.waiting)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
