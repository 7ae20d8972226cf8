"""/predictions/{request_id}/explanation: ask why the model answered what it did, and read the answer.

DB-first like predictions: asking inserts a row, a listener computes the explanation with the model
version that answered and writes it, and `?wait=S` answers as soon as it is there.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.auth import Caller, Reader, not_found
from service.repository.explanations import (
    get_explanation,
    request_and_lookup_explanations,
    request_explanation,
)
from service.schemas import MAX_BATCH_ITEMS, error_responses
from service.services import Services, ServicesDep

router = APIRouter(prefix="/predictions", tags=["explanations"])

JSON = "application/json"
Wait = Annotated[
    float | None, Query(gt=0, le=30, description="Seconds to wait for the explanation (0 < S ≤ 30).")
]


class Contribution(BaseModel):
    feature: str = Field(description="Feature as the client sent it (one-hot columns summed back).")
    value: Any = Field(description="The employee's value of the feature.")
    contribution: float = Field(description="How far this feature moved the output from base_value.")


class Explanation(BaseModel):
    request_id: UUID
    model_name: str
    model_version: str = Field(description="The version that answered the request (also after a promotion).")
    method: Literal["linear_log_odds", "tree_shap", "constant"]
    scale: Literal["log_odds", "probability"] = Field(
        description="What base_value + Σ contribution adds up to: the logit or the probability of leaving."
    )
    base_value: float = Field(description="The model's output at the baseline (training mean or cover).")
    output: float = Field(description="The model's output for this request on `scale`.")
    contributions: list[Contribution] = Field(description="Largest absolute contribution first.")
    created_at: datetime


class ExplanationPending(BaseModel):
    request_id: UUID
    status: Literal["pending", "running"]
    detail: str


def explanation_of(row: dict[str, Any]) -> Explanation:
    return Explanation(
        request_id=row["request_id"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        method=row["method"],
        scale=row["scale"],
        base_value=row["base_value"],
        output=row["output_value"],
        contributions=row["contributions"],
        created_at=row["created_at"],
    )


class ExplanationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_ids: list[UUID] = Field(
        min_length=1, max_length=MAX_BATCH_ITEMS, description="Public request ids (1 to 10,000)."
    )
    top: int | None = Field(
        None, ge=1, le=100, description="Keep only the largest `top` contributions of each (default: all)."
    )


class ExplanationItem(BaseModel):
    request_id: UUID
    status: Literal["completed", "pending", "running", "failed"] = Field(
        description="completed: see `explanation`; pending/running: ask again later; failed: see `detail`."
    )
    detail: str | None = Field(description="Why there is none (yet); null when completed.")
    explanation: Explanation | None


class ExplanationsOut(BaseModel):
    items: list[ExplanationItem | None] = Field(
        description="One entry per id asked, in the order asked; null where no request has that id."
    )


def item_of(row: dict[str, Any], caller: Caller) -> ExplanationItem | None:
    """One request's entry of POST /predictions/explanations (None for an unknown id, or one the caller
    may not read)."""
    request_id = row["request_id"]
    if request_id is None or not caller.owns(row):
        return None
    if row["method"] is not None:
        return ExplanationItem(
            request_id=request_id, status="completed", detail=None, explanation=explanation_of(row)
        )
    if row["request_status"] == "failed":
        detail = f"the prediction failed, there is no answer to explain: {row['request_error']}"
        return ExplanationItem(request_id=request_id, status="failed", detail=detail, explanation=None)
    status = row["explanation_status"] or "pending"
    if status == "failed":
        detail = f"the explanation failed: {row['explanation_error']}"
    elif row["request_status"] != "completed":
        detail = "its prediction is not answered yet"
    else:
        detail = "being computed"
    return ExplanationItem(request_id=request_id, status=status, detail=detail, explanation=None)


def answer(request_id: UUID, row: dict[str, Any] | None, caller: Caller) -> Response:
    """200 with the explanation, 202 while it is being made, else the error that says why not."""
    if not caller.owns(row):
        raise not_found(request_id)
    assert row is not None
    if row["method"] is not None:
        return Response(explanation_of(row).model_dump_json(), 200, media_type=JSON)
    if row["request_status"] == "failed":
        raise HTTPException(
            409,
            f"prediction request {request_id} failed, there is no answer to explain: {row['request_error']}",
        )
    status = row["explanation_status"]
    if status is None:
        raise HTTPException(
            404,
            f"no explanation was asked for request {request_id}: POST /predictions/{request_id}/explanation",
        )
    if status == "failed":
        raise HTTPException(
            409, f"the explanation of request {request_id} failed: {row['explanation_error']}"
        )
    waiting = (
        "its prediction is not answered yet" if row["request_status"] != "completed" else "being computed"
    )
    body = ExplanationPending(request_id=request_id, status=status, detail=f"explanation {waiting}")
    headers = {"Location": f"/predictions/{request_id}/explanation"}
    return Response(body.model_dump_json(), 202, headers, media_type=JSON)


def settled(row: dict[str, Any] | None) -> bool:
    return (
        row is None
        or row["method"] is not None
        or row["request_status"] == "failed"
        or row["explanation_status"] == "failed"
    )


async def ask_and_wait(svc: Services, request_id: UUID, seconds: float | None) -> dict[str, Any] | None:
    """Ask for the explanation, then (with `seconds`) wait until it exists or failed."""
    if seconds is None:
        await request_explanation(svc.pool, request_id)
        return await get_explanation(svc.pool, request_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(seconds, svc.settings.api_max_wait_seconds)
    # Watch before asking: the explanation may be written before the first read.
    with svc.hub.watch(request_id) as waiter:
        await request_explanation(svc.pool, request_id)
        row = await get_explanation(svc.pool, request_id)
        while not settled(row):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if not await waiter.wait(remaining):
                row = await get_explanation(svc.pool, request_id)  # a wake-up may have been lost
                break
            row = await get_explanation(svc.pool, request_id)
    return row


@router.post(
    "/explanations",
    response_model=ExplanationsOut,
    responses=error_responses(401, 403, 503),
)
async def explain_predictions(body: ExplanationsIn, svc: ServicesDep, caller: Reader) -> Response:
    """Ask for the explanations of up to 10,000 requests at once and read those that exist, in the
    order asked (e.g. the top three reasons of every row of a batch: `"top": 3`). Call again until no
    item is pending or running; a failed one is asked again only by POST /predictions/{id}/explanation.
    As for one request: a `read` key may ask about any, a `submit` key about those it submitted (null
    in the place of others)."""
    rows = await request_and_lookup_explanations(svc.pool, body.request_ids, body.top, caller.only_key)
    out = ExplanationsOut(items=[item_of(row, caller) for row in rows])
    return Response(out.model_dump_json(), 200, media_type=JSON)


@router.post(
    "/{request_id}/explanation",
    response_model=Explanation,
    responses={
        202: {"model": ExplanationPending, "description": "Asked; GET the Location (or wait) for it."},
        **error_responses(401, 403, 404, 409, 503),
    },
)
async def explain_prediction(
    request_id: UUID, svc: ServicesDep, caller: Reader, wait: Wait = None
) -> Response:
    """Ask why the model answered what it did (202); with `?wait=S`, answer 200 with the explanation as
    soon as it exists. Computed by a listener with the model version that answered the request.
    A `read` key may ask about any request, a `submit` key about those it submitted."""
    row = await get_explanation(svc.pool, request_id)
    if not caller.owns(row) or row["method"] is not None or row["request_status"] == "failed":
        return answer(request_id, row, caller)  # unknown, explained already, or nothing to explain
    return answer(request_id, await ask_and_wait(svc, request_id, wait), caller)


@router.get(
    "/{request_id}/explanation",
    response_model=Explanation,
    responses={
        202: {"model": ExplanationPending, "description": "Asked and being computed."},
        **error_responses(401, 403, 404, 409, 503),
    },
)
async def read_explanation(request_id: UUID, svc: ServicesDep, caller: Reader) -> Response:
    """The explanation of a request: base_value + Σ contribution = the model's output on `scale`."""
    return answer(request_id, await get_explanation(svc.pool, request_id), caller)
