"""/models/compare and /models/events: a shadow challenger measured against the default on the same
requests, and the trail of model changes. Declared before /models/{name}, which would take these paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from model_store.comparison import Window, shape
from service.errors import invalid
from service.repository import shadows as repo
from service.routes.predictions import MODEL_NAME_PATTERN
from service.schemas import error_responses
from service.services import ServicesDep
from service.shadow_schemas import Comparison, ModelEvent, ShadowInfo

router = APIRouter(prefix="/models", tags=["models"])


def _utc(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def note(figures: dict, min_labels: int) -> str | None:
    """Why the comparison cannot be judged yet, in plain words; None when it can."""
    name, labelled, positives = figures["challenger"], figures["labelled"], figures["positives"]
    if figures["paired"] == 0:
        errors = figures["shadow_errors"]
        if errors:
            return f"{name} failed on all {errors:,} requests it was given in the shadow: see its errors."
        return f"{name} scored no request in the shadow in this window (python -m model_store shadow {name})."
    if labelled == 0:
        return f"No outcome posted yet for the {figures['paired']:,} paired requests: ROC-AUCs need labels."
    if positives in (0, labelled):
        what = "stayed" if positives == 0 else "left"
        return f"All {labelled:,} labelled employees {what}: ROC-AUCs need both outcomes."
    if labelled < min_labels:
        return f"Only {labelled:,} labelled pairs: too few to judge (at least {min_labels} needed)."
    return None


@router.get("/compare", response_model=Comparison, responses=error_responses(503))
async def compare(
    svc: ServicesDep,
    challenger: Annotated[str, Query(pattern=MODEL_NAME_PATTERN, description="The shadow model's name.")],
    version: Annotated[
        str | None,
        Query(pattern=MODEL_NAME_PATTERN, description="Only this challenger version (default: all)."),
    ] = None,
    since: Annotated[
        datetime | None,
        Query(description="Requests submitted at or after (default: PERFORMANCE_WINDOW_DAYS before until)."),
    ] = None,
    until: Annotated[datetime | None, Query(description="Requests submitted before (default: now).")] = None,
) -> Comparison:
    """The challenger scored in the shadow against the answers the clients got on the same requests:
    paired count, agreement of decisions, mean absolute probability difference and, on the pairs with an
    outcome, both ROC-AUCs, their difference and DeLong's paired test, computed in the database."""
    until = _utc(until) or datetime.now(UTC)
    try:
        default_since = until - timedelta(days=svc.settings.performance_window_days)
    except OverflowError:  # an `until` in the first days of year 1
        default_since = datetime.min.replace(tzinfo=UTC)
    window = Window(_utc(since) or default_since, until)
    if window.since >= window.until:
        raise invalid(("query", "since"), "since must be before until")
    params = {"challenger": challenger, "version": version, "since": window.since, "until": window.until}
    row, primaries, shadows = await repo.comparison(svc.pool, params)
    figures = shape(challenger, window, row, primaries)
    why = note(figures, svc.settings.performance_min_labels)
    return Comparison(
        **figures,
        shadowing=any(s["model_name"] == challenger for s in shadows),
        enough_labels=why is None,
        note=why,
    )


@router.get("/shadows", response_model=list[ShadowInfo], responses=error_responses(503))
async def shadows(svc: ServicesDep) -> list[ShadowInfo]:
    """The model versions running in the shadow of the default now (python -m model_store shadow)."""
    return [ShadowInfo(**row) for row in await repo.shadows(svc.pool)]


@router.get("/events", response_model=list[ModelEvent], responses=error_responses(503))
async def events(
    svc: ServicesDep,
    model: Annotated[
        str | None, Query(pattern=MODEL_NAME_PATTERN, description="Only events of this model name.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 100,
) -> list[ModelEvent]:
    """Model changes from the audit trail, newest first: deployments, promotions (with the evidence and
    the gates' verdicts), rollbacks, shadows started and stopped, each with who acted."""
    return [ModelEvent(**row) for row in await repo.events(svc.pool, model, limit)]
