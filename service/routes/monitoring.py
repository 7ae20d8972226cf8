"""/monitoring: what the dashboard's Monitoring page draws, computed in the database per window."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.monitoring_summary import summary
from service.schemas import MonitoringSummary, error_responses
from service.services import ServicesDep

router = APIRouter(prefix="/monitoring", tags=["operations"])

MAX_WINDOW_MINUTES = 7 * 24 * 60


@router.get("/summary", response_model=MonitoringSummary, responses=error_responses(503))
async def monitoring_summary(
    svc: ServicesDep,
    window_minutes: Annotated[
        int, Query(ge=1, le=MAX_WINDOW_MINUTES, description="The last M minutes (1 to 10,080: a week).")
    ] = 60,
) -> MonitoringSummary:
    """Requests submitted in the last `window_minutes`: counts by status, throughput per time bucket
    (every bucket, zeros included), submit-to-result latency percentiles, predicted probabilities per
    model (20 bins), listeners with their heartbeats, and the population stability index of each
    feature of the most recent requests (up to 1,000) against the training data, worst first (null
    below 50 requests)."""
    return await summary(svc, window_minutes)
