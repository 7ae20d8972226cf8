"""/outcomes: what really happened to the employees predictions were about."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from service.auth import Submitter
from service.outcome_schemas import OutcomesIn, OutcomesRecorded
from service.repository import outcomes
from service.repository.outcomes import OutcomeItem
from service.schemas import error_responses
from service.services import ServicesDep

router = APIRouter(tags=["outcomes"])


@router.post(
    "/outcomes",
    response_model=OutcomesRecorded,
    responses=error_responses(400, 401, 403, 413, 503),
)
async def post_outcomes(body: OutcomesIn, svc: ServicesDep, caller: Submitter) -> OutcomesRecorded:
    """Record up to 10,000 observed outcomes, each for one `request_id` or for every prediction about a
    `subject_ref` made before `observed_at` (default: now) within the horizon. Idempotent: posting the
    same outcomes again changes nothing (`unchanged`); a different label or observed_at corrects the
    outcome and keeps the old one as history. Outcomes that match no prediction are reported, not
    dropped. Needs scope `submit`; a key without `read` labels only the requests it submitted (others'
    count as unknown)."""
    horizon = body.horizon_days or svc.settings.outcome_horizon_days
    now = datetime.now(UTC)
    items = [OutcomeItem(i.request_id, i.subject_ref, i.label, i.observed_at or now) for i in body.items]
    done = await outcomes.record(svc.pool, items, horizon, body.source or "POST /outcomes", caller.only_key)
    unknown = [body.items[i] for i in done.unknown_items]
    return OutcomesRecorded(
        items=len(items),
        matched=done.matched,
        recorded=done.recorded,
        corrected=done.corrected,
        unchanged=done.unchanged,
        unknown=len(unknown),
        unknown_request_ids=[i.request_id for i in unknown if i.request_id is not None],
        unknown_subject_refs=[i.subject_ref for i in unknown if i.subject_ref is not None],
        horizon_days=horizon,
    )
