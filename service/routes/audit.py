"""/audit: the trail of admin actions (keys, promotions, rollbacks, retention, erasure), newest first."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from service.auth import Caller, needs
from service.repository.audit import AuditFilter, audit_trail
from service.schemas import error_responses
from service.services import ServicesDep

router = APIRouter(tags=["operations"])

ACTION_PATTERN = r"^[a-z_]+\.[a-z_]+$"
# What a read key may see of the trail: the models' history (no key names, no erasures).
MODEL_EVENTS = "model."
MAX_LIMIT = 1000


class AuditEvent(BaseModel):
    id: int = Field(description="Order of the events; pass the last one as `before` for the next page.")
    at: datetime
    actor: str = Field(description="Who acted: key:<name>, cli:<user>, or the database role.")
    action: str = Field(
        description="area.verb: key.created, key.revoked, model.promoted, model.rolled_back, …"
    )
    subject: str | None = Field(description="What it happened to: a model name, a key name, …")
    details: dict[str, Any] = Field(description="The facts: versions before and after, reason, counts.")


class AuditPage(BaseModel):
    items: list[AuditEvent]
    next_before: int | None = Field(description="`before` for the next (older) page; null on the last.")


Auditor = Annotated[Caller, Depends(needs("admin", "read", always=True))]


def check_visible(caller: Caller, actions: list[str] | None) -> None:
    """An admin key reads every event; a read key only model events, asked for by name."""
    if "admin" in caller.scopes:
        return
    if not actions or not all(a.startswith(MODEL_EVENTS) for a in actions):
        raise HTTPException(
            403,
            f"key {caller.name!r} has scope {', '.join(sorted(caller.scopes))}: it may read only the"
            " model events (ask ?action=model.promoted&action=model.rolled_back…); every event needs"
            " scope admin",
        )


@router.get("/audit", response_model=AuditPage, responses=error_responses(400, 401, 403, 503))
async def read_audit(
    svc: ServicesDep,
    caller: Auditor,
    action: Annotated[
        list[str] | None,
        Query(description="Only these actions (repeat for several), e.g. model.promoted."),
    ] = None,
    since: Annotated[datetime | None, Query(description="At or after this time.")] = None,
    before: Annotated[int | None, Query(ge=1, description="next_before of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (at most 1,000).")] = 100,
) -> AuditPage:
    """Admin actions newest first: who (key or CLI user), what, to what, when, with the facts. Needs a key
    with scope `admin`; a `read` key may read the model events (promotions, rollbacks) by action."""
    for name in action or []:
        if re.fullmatch(ACTION_PATTERN, name) is None:
            raise HTTPException(400, f"action {name!r} is not area.verb (e.g. model.promoted)")
    check_visible(caller, action)
    rows = await audit_trail(svc.pool, AuditFilter(action, since, before), limit + 1)
    next_before = rows[limit - 1]["id"] if len(rows) > limit else None
    return AuditPage(items=[AuditEvent(**r) for r in rows[:limit]], next_before=next_before)
