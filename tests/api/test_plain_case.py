"""POST /predictions/request answers its plain requests without FastAPI's dependency solving
(service/plain_case.py), and every request, plain or not, exactly as FastAPI's own path answers it:
the same status, the same body (ids and times aside), the same headers."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import fastapi.routing
import httpx
import psycopg
import pytest

from service import plain_case
from service.repository.api_keys import create_key
from service.routes.predictions import submit_prediction
from tests.api.conftest import api_settings, employee, in_process, play_listener, stand_in_app

pytestmark = pytest.mark.anyio

JSON = "application/json"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)")


def body(**fields: Any) -> bytes:
    return json.dumps({"model_name": "logistic", "features": employee(), **fields}).encode()


# (name, query string, extra headers, body, content type): each sent as is.
Case = tuple[str, str, dict[str, str], bytes, str | None]
CASES: list[Case] = [
    ("plain", "", {}, body(), JSON),
    ("plain, default model", "", {}, json.dumps({"features": employee()}).encode(), JSON),
    ("plain, subject_ref", "", {}, body(subject_ref="E-1"), JSON),
    ("plain, short wait", "?wait=0.05", {}, body(), JSON),
    ("plain, other query parameters ignored", "?x=1&wait=0.05", {}, body(), JSON),
    ("plain, unknown model (the endpoint answers 404)", "", {}, body(model_name="nope"), JSON),
    ("plain, bad feature (the endpoint answers 422)", "", {}, body(features=employee(age=5)), JSON),
    ("wait zero", "?wait=0", {}, body(), JSON),
    ("wait too long", "?wait=31", {}, body(), JSON),
    ("wait as an exponent", "?wait=5e-2", {}, body(), JSON),
    ("wait not a number", "?wait=soon", {}, body(), JSON),
    ("wait twice", "?wait=0.05&wait=40", {}, body(), JSON),
    ("wait empty", "?wait=", {}, body(), JSON),
    ("wait without a value", "?wait", {}, body(), JSON),
    ("plain, wait percent-escaped", "?wait=%30.05", {}, body(), JSON),
    ("wait with a plus", "?wait=+1", {}, body(), JSON),
    ("plain, a parameter named like wait", "?waiting=0.05", {}, body(), JSON),
    ("plain, wait after an empty field", "?&wait=0.05", {}, body(), JSON),
    ("empty idempotency key", "", {"Idempotency-Key": ""}, body(), JSON),
    ("long idempotency key", "", {"Idempotency-Key": "k" * 201}, body(), JSON),
    ("no content type", "", {}, body(), None),
    ("text content type", "", {}, body(), "text/plain"),
    ("json with a charset", "", {}, body(), "application/json; charset=utf-8"),
    ("broken json", "", {}, b'{"features": {', JSON),
    ("empty body", "", {}, b"", JSON),
    ("a list", "", {}, b"[1, 2]", JSON),
    ("an extra field", "", {}, body(colour="red"), JSON),
    ("subject_ref too long", "", {}, body(subject_ref="s" * 201), JSON),
    ("a NaN", "", {}, b'{"features": {"age": NaN}}', JSON),
    ("a lone surrogate in model_name", "", {}, b'{"model_name": "\\ud800", "features": {}}', JSON),
]


def normalised(response: httpx.Response) -> tuple[int, str, dict[str, str]]:
    """What a client sees, with the request id and the times (different on each call) blanked."""
    headers = {
        k: UUID.sub("ID", v)
        for k, v in response.headers.items()
        if k in ("content-type", "location", "idempotent-replayed", "www-authenticate", "retry-after")
    }
    return response.status_code, TIME.sub("TIME", UUID.sub("ID", response.text)), headers


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(stand_in_app(api_settings(db_url))) as client:
        yield client


@pytest.fixture
def plain_answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per submission: whether the plain case answered it (False: it took FastAPI's path)."""
    answered: list[bool] = []
    handler = plain_case._HANDLERS[submit_prediction]

    async def spy(request: Any) -> Any:
        try:
            response = await handler(request)
        except plain_case.NotPlain:
            answered.append(False)
            raise
        except Exception:
            answered.append(True)  # the endpoint's own refusal (404, 409, ...), reached by the plain case
            raise
        answered.append(True)
        return response

    monkeypatch.setitem(plain_case._HANDLERS, submit_prediction, spy)
    return answered


@pytest.fixture
def fastapi_solves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts FastAPI's dependency solving (one entry per request that took FastAPI's path)."""
    calls: list[int] = []
    solve = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    return calls


async def send(api: httpx.AsyncClient, case: Case, key: str) -> httpx.Response:
    _, query, extra, content, content_type = case
    headers = {**extra, **({"content-type": content_type} if content_type else {})}
    if "Idempotency-Key" not in extra:
        headers["Idempotency-Key"] = key
    return await api.post(f"/predictions/request{query}", content=content, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_every_submission_is_answered_as_fastapi_answers_it(
    api: httpx.AsyncClient,
    case: Case,
    plain_answers: list[bool],
    fastapi_solves: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = normalised(await send(api, case, "first"))
    assert plain_answers == [case[0].startswith("plain")]
    if plain_answers[0]:
        assert not fastapi_solves
    with monkeypatch.context() as m:
        m.delitem(plain_case._HANDLERS, submit_prediction)
        assert normalised(await send(api, case, "second")) == plain


async def test_a_replayed_or_reused_idempotency_key_is_answered_as_fastapi_answers_it(
    api: httpx.AsyncClient, fastapi_solves: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def three_calls(key: str) -> list[tuple[int, str, dict[str, str]]]:
        first = await send(api, ("", "", {}, body(), JSON), key)
        again = await send(api, ("", "", {}, body(), JSON), key)
        other = await send(api, ("", "", {}, body(features=employee(age=42)), JSON), key)
        assert again.json()["request_id"] == first.json()["request_id"]
        return [normalised(r) for r in (first, again, other)]

    plain = await three_calls("k1")
    assert not fastapi_solves
    assert [status for status, _, _ in plain] == [202, 202, 409]
    assert plain[1][2]["idempotent-replayed"] == "true"
    with monkeypatch.context() as m:
        m.delitem(plain_case._HANDLERS, submit_prediction)
        assert [(s, b.replace("k2", "k1"), h) for s, b, h in await three_calls("k2")] == plain


async def test_keys_and_scopes_are_enforced_alike(
    db_url: str, conn: psycopg.Connection, fastapi_solves: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {"submitter": create_key(conn, "submitter", ["submit"]), "reader": create_key(conn, "r", ["read"])}
    callers: list[tuple[str, dict[str, str]]] = [
        ("no key", {}),
        ("empty key", {"X-API-Key": ""}),
        ("wrong key", {"X-API-Key": "not-a-key"}),
        ("read key", {"X-API-Key": keys["reader"]}),
        ("submit key", {"X-API-Key": keys["submitter"]}),
    ]

    async def answers(api: httpx.AsyncClient) -> list[tuple[int, str, dict[str, str]]]:
        out = []
        for _, headers in callers:
            r = await api.post(
                "/predictions/request", content=body(), headers={**headers, "content-type": JSON}
            )
            out.append(normalised(r))
        return out

    async with in_process(stand_in_app(api_settings(db_url))) as api:
        plain = await answers(api)
        assert not fastapi_solves
        with monkeypatch.context() as m:
            m.delitem(plain_case._HANDLERS, submit_prediction)
            assert await answers(api) == plain
    assert [status for status, _, _ in plain] == [401, 401, 401, 403, 202]


async def test_a_plain_submit_and_wait_answers_200_with_the_result(
    api: httpx.AsyncClient, db_url: str, fastapi_solves: list[int]
) -> None:
    call = asyncio.create_task(
        api.post("/predictions/request?wait=30", content=body(), headers={"content-type": JSON})
    )
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        row: Callable[[], Any] = lambda: conn.execute("SELECT request_id::text FROM prediction_requests")  # noqa: E731
        while (found := await (await row()).fetchone()) is None:
            await asyncio.sleep(0.02)
    await play_listener(db_url, found[0], prediction=1, probability=0.625)
    response = await call
    assert response.status_code == 200 and not fastapi_solves
    answer = response.json()
    assert answer["request_id"] == found[0] and answer["status"] == "completed"
    assert answer["result"]["probability"] == 0.625 and answer["features"] == employee()
    again = await api.get(f"/predictions/{found[0]}")
    assert again.json() == answer


async def test_the_routes_own_body_limit_holds_over_the_apps(
    db_url: str, plain_answers: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's limit (4,096 bytes here) is below the route's own (64 kB), which FastAPI applies instead.
    async with in_process(stand_in_app(api_settings(db_url, api_max_body_bytes=4096))) as api:

        async def answers(key: str) -> list[tuple[int, str, dict[str, str]]]:
            padded = [body(features=employee(pad="x" * n)) for n in (5_000, 70_000)]
            cases = [("", "", {}, content, JSON) for content in (body(), *padded)]
            return [normalised(await send(api, case, f"{key}{i}")) for i, case in enumerate(cases)]

        plain = await answers("first")
        assert plain_answers == [True, True, False]
        with monkeypatch.context() as m:
            m.delitem(plain_case._HANDLERS, submit_prediction)
            assert await answers("second") == plain
    assert [status for status, _, _ in plain] == [202, 422, 413]  # 422: the pad is no feature


async def test_an_unexpected_error_is_the_same_plain_500_and_is_counted(
    api: httpx.AsyncClient, plain_answers: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.repository import requests

    async def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(requests, "submit", broken)
    plain = normalised(await send(api, ("", "", {}, body(), JSON), "k1"))
    assert plain_answers == [True]
    with monkeypatch.context() as m:
        m.delitem(plain_case._HANDLERS, submit_prediction)
        assert normalised(await send(api, ("", "", {}, body(), JSON), "k2")) == plain
    assert plain[:2] == (500, '{"detail":"internal server error"}')
    metrics = (await api.get("/metrics")).text
    counted = 'http_requests_total{method="POST",route="/predictions/request",status="500"} 2.0'
    assert counted in metrics  # once by the lane, once by the metrics middleware
