"""/predictions: submit one or many, read one (optionally waiting), page through history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response

from service import plain_case
from service.auth import Reader, Submitter, identify_key, not_found
from service.cursor import decode_cursor, encode_cursor
from service.repository import requests
from service.repository.requests import HistoryFilter, SubmittedRow
from service.routing import FastJsonRoute, Lane
from service.schemas import (
    BatchRequestIn,
    BatchSubmitted,
    HistoryPage,
    LookupIn,
    LookupOut,
    Prediction,
    PredictionRequestIn,
    Status,
    Submitted,
    error_responses,
    prediction_json,
    prediction_of,
    submitted_json,
)
from service.services import Services, ServicesDep
from service.subjects import split_subject_refs
from service.submissions import submit_many, submit_one, wait_for
from service.validation import checked, checked_items
from service.waiting import TERMINAL

router = APIRouter(prefix="/predictions", tags=["predictions"], route_class=FastJsonRoute)

MAX_WAIT_SECONDS = 30
Wait = Annotated[
    float | None,
    Query(gt=0, le=MAX_WAIT_SECONDS, description="Seconds to wait for the answer (0 < S ≤ 30)."),
]
IDEMPOTENCY_KEY_MAX = 200
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        description="A retried submission with the same key returns the original request.",
    ),
]
# One employee's features are about 1.5 kB; batches are bounded by API_MAX_BODY_BYTES instead.
SINGLE_BODY_BYTES = 64 * 1024
JSON = "application/json"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,100}$"
REPLAYED_HEADER = {
    "schema": {"type": "string", "enum": ["true"]},
    "required": False,
    "description": "Present when an earlier submission with this Idempotency-Key is returned.",
}
HISTORY_COUNT_CAP = 10_000  # history pages say "of 10,000+" beyond: a bounded count on any table


def capped(svc: Services, wait: float | None) -> float | None:
    """The wait asked for, within the server's cap (API_MAX_WAIT_SECONDS)."""
    return None if wait is None else min(wait, svc.settings.api_max_wait_seconds)


def replay_headers(replayed: bool) -> dict[str, str]:
    """`Idempotent-Replayed: true` on every answer that returns an earlier submission (202 or 200)."""
    return {"Idempotent-Replayed": "true"} if replayed else {}


def accepted(row: SubmittedRow) -> Response:
    body = submitted_json(row.request_id, row.model_name, row.status, row.created_at)
    headers = {"Location": f"/predictions/{row.request_id}", **replay_headers(row.replayed)}
    return Response(body, 202, headers, media_type=JSON)


@router.post(
    "/request",
    status_code=202,
    response_model=Submitted,
    max_body_size=SINGLE_BODY_BYTES,
    responses={
        200: {
            "model": Prediction,
            "description": "Answered within ?wait=S: the request with its result.",
            "headers": {"Idempotent-Replayed": REPLAYED_HEADER},
        },
        202: {
            "description": "Queued; GET the Location for the result.",
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "/predictions/{request_id}"},
                "Idempotent-Replayed": REPLAYED_HEADER,
            },
        },
        **error_responses(400, 401, 403, 404, 409, 413, 503),
    },
)
async def submit_prediction(
    body: PredictionRequestIn,
    svc: ServicesDep,
    caller: Submitter,
    wait: Wait = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Queue one prediction (202); with `?wait=S`, answer 200 with the result as soon as it exists.
    Needs a key with scope `submit` once keys are in use; the request remembers that key."""
    model = await svc.catalog.resolve(body.model_name)
    features = checked(body.features, svc.catalog.schema(model), ("body", "features"))
    outcome = await submit_one(
        svc, model.name, features, idempotency_key, capped(svc, wait), body.subject_ref, caller.key_id
    )
    if outcome.done is None:
        return accepted(outcome.submitted)
    body = prediction_json(outcome.done)
    return Response(body, 200, replay_headers(outcome.submitted.replayed), media_type=JSON)


@plain_case.plain_case(submit_prediction)
async def submit_prediction_plainly(request: Request) -> Response:
    """submit_prediction's plain case (service/plain_case.py): the same parameters, read directly."""
    wait = plain_case.query_seconds(request, "wait", 0, MAX_WAIT_SECONDS)
    key = plain_case.header(request, b"idempotency-key")
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        raise plain_case.NotPlain
    api_key = plain_case.header(request, b"x-api-key")
    body = await plain_case.json_body(request, PredictionRequestIn)
    caller = await identify_key(request, api_key, "submit")
    return await submit_prediction(body, request.app.state.services, caller, wait, key)


# Its plain requests skip the middleware stack too (service/routing.py, PlainLanes).
SUBMIT_LANE = Lane("POST", "/predictions/request", submit_prediction, SINGLE_BODY_BYTES)


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchSubmitted,
    responses={
        202: {
            "description": "Queued, ids in the items' order.",
            "headers": {"Idempotent-Replayed": REPLAYED_HEADER},
        },
        **error_responses(400, 401, 403, 404, 409, 413, 503),
    },
)
async def submit_batch(
    body: BatchRequestIn, svc: ServicesDep, caller: Submitter, idempotency_key: IdempotencyKey = None
) -> Response:
    """Queue up to 10,000 predictions for one model, stored in chunks of 1,000 (each its own commit, so
    answering starts before the last is stored); ids come back in the items' order. A 503 after part
    of the batch was stored says it may have been stored: retry with the same Idempotency-Key.
    Needs a key with scope `submit` once keys are in use."""
    model = await svc.catalog.resolve(body.model_name)
    features, subject_refs = split_subject_refs(body.items)
    items = checked_items(features, svc.catalog.schema(model))
    ids, replayed = await submit_many(svc, model.name, items, idempotency_key, subject_refs, caller.key_id)
    answer = BatchSubmitted(model_name=model.name, request_ids=ids)
    return Response(answer.model_dump_json(), 202, replay_headers(replayed), media_type=JSON)


@router.get("/history", response_model=HistoryPage, responses=error_responses(401, 403, 503))
async def prediction_history(
    svc: ServicesDep,
    caller: Reader,
    status: Status | None = None,
    model: Annotated[
        str | None, Query(pattern=MODEL_NAME_PATTERN, description="Only requests for this model.")
    ] = None,
    since: Annotated[datetime | None, Query(description="Submitted at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Submitted before.")] = None,
    limit: Annotated[int, Query(ge=1, description="Page size (capped by the server, 500 by default).")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> HistoryPage:
    """Requests newest first, with their results; keyset-paginated by `cursor`. A `read` key sees every
    request, a `submit` key those it submitted."""
    limit = min(limit, svc.settings.api_history_max_page)
    before = decode_cursor(cursor) if cursor else None
    where = HistoryFilter(status, model, since, until, caller.only_key)
    rows = await requests.history(svc.pool, where, before, limit + 1)
    next_cursor = encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
    counted = await requests.history_total(svc.pool, where, HISTORY_COUNT_CAP + 1)
    return HistoryPage(
        items=[prediction_of(r) for r in rows[:limit]],
        next_cursor=next_cursor,
        total=min(counted, HISTORY_COUNT_CAP),
        total_capped=counted > HISTORY_COUNT_CAP,
    )


@router.post("/lookup", response_model=LookupOut, responses=error_responses(401, 403, 503))
async def lookup_predictions(body: LookupIn, svc: ServicesDep, caller: Reader) -> Response:
    """Read up to 10,000 requests in one call (each as GET /predictions/{request_id} shows it), in the
    order asked. An id no request has (or, for a `submit` key, another key's request) gets `null` in
    its place rather than failing the whole lookup; an id asked twice is answered twice."""
    rows = await requests.lookup_predictions(svc.pool, body.request_ids)
    answer = LookupOut(items=[prediction_of(row) if caller.owns(row) else None for row in rows])
    return Response(answer.model_dump_json(), 200, media_type=JSON)


@router.get("/{request_id}", response_model=Prediction, responses=error_responses(401, 403, 404, 503))
async def get_prediction(request_id: UUID, svc: ServicesDep, caller: Reader, wait: Wait = None) -> Response:
    """One request with its result (null until answered); `?wait=S` waits up to S s for the answer.
    A `submit` key gets 404 for a request another key submitted, as for one that does not exist."""
    row = None
    if wait is None or not caller.sees_all:
        row = await requests.get_prediction(svc.pool, request_id)
        if not caller.owns(row):
            raise not_found(request_id)
    if wait is not None and (row is None or row["status"] not in TERMINAL):
        row = await wait_for(svc, request_id, capped(svc, wait))
    if row is None:
        raise not_found(request_id)
    return Response(prediction_json(row), 200, media_type=JSON)
