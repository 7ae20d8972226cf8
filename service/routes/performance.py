"""/monitoring/performance: live ROC-AUC, PR-AUC, Brier, decisions and calibration per model version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from service import performance
from service.errors import invalid
from service.outcome_schemas import Performance
from service.routes.predictions import MODEL_NAME_PATTERN
from service.schemas import error_responses
from service.services import ServicesDep

router = APIRouter(prefix="/monitoring", tags=["operations"])


def _utc(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/performance", response_model=Performance, responses=error_responses(503))
async def model_performance(
    svc: ServicesDep,
    model: Annotated[
        str | None, Query(pattern=MODEL_NAME_PATTERN, description="Only this model name (default: all).")
    ] = None,
    since: Annotated[
        datetime | None,
        Query(
            description="Predictions submitted at or after (default: PERFORMANCE_WINDOW_DAYS before until)."
        ),
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Predictions submitted before (default: now).")
    ] = None,
) -> Performance:
    """Each model name and version that answered predictions submitted in [since, until), measured against
    the outcomes posted for them (POST /outcomes), in the database: answered and labelled counts, positive
    rate, ROC-AUC, PR-AUC (average precision), Brier score, precision / recall / F1 at the version's
    threshold, a 10-bin calibration table and the same figures per time bucket, beside the version's
    offline metrics. ROC-AUC and PR-AUC are null unless both outcomes occur; `note` says in plain words
    when the labels are too few to judge."""
    window = performance.window_of(svc, _utc(since), _utc(until), model)
    if window.since >= window.until:
        raise invalid(("query", "since"), "since must be before until")
    return await performance.performance(svc, window)
