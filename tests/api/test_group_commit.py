"""Group commit: single submissions that arrive together share one INSERT, and each caller still gets
exactly its own row (or, for a used Idempotency-Key, the original; or its own refusal)."""

from __future__ import annotations

import asyncio
from uuid import UUID

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from service.grouping import SubmissionGroups
from service.ids import new_request_id
from tests.api.conftest import api_settings, employee, eventually, in_process, stand_in_app

pytestmark = pytest.mark.anyio


async def test_concurrent_submissions_are_stored_each_as_sent_in_fewer_transactions(
    db_url: str, conn: psycopg.Connection
) -> None:
    app = stand_in_app(api_settings(db_url))
    async with in_process(app) as client:
        bodies = [
            {"model_name": "logistic", "features": employee(age=20 + i), "subject_ref": f"emp-{i}"}
            for i in range(40)
        ]
        responses = await asyncio.gather(*(client.post("/predictions/request", json=b) for b in bodies))
    assert [r.status_code for r in responses] == [202] * 40
    ids = [r.json()["request_id"] for r in responses]
    assert len(set(ids)) == 40
    rows = conn.execute(
        "SELECT request_id::text, features, subject_ref, status, xmin::text FROM prediction_requests"
    ).fetchall()
    stored = {r[0]: r for r in rows}
    assert len(stored) == 40
    for request_id, body in zip(ids, bodies, strict=True):  # every caller got the id of its own row
        _, features, subject_ref, status, _ = stored[request_id]
        assert (features, subject_ref, status) == (body["features"], body["subject_ref"], "pending")
    # Rows of one INSERT share its transaction id: forty callers, far fewer commits.
    assert len({r[4] for r in rows}) <= 20
    assert app.state.services.groups.rows == 40


async def test_one_key_used_by_callers_of_the_same_group_stores_one_row(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    same = [
        client.post("/predictions/request", json={"features": employee()}, headers={"Idempotency-Key": "k1"})
        for _ in range(6)
    ]
    other = client.post(
        "/predictions/request", json={"features": employee(age=30)}, headers={"Idempotency-Key": "k1"}
    )
    plain = [client.post("/predictions/request", json={"features": employee()}) for _ in range(6)]
    responses = await asyncio.gather(*same, other, *plain)
    first, clash, unkeyed = responses[:6], responses[6], responses[7:]
    assert {r.status_code for r in first} == {202} and len({r.json()["request_id"] for r in first}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in first) >= 5
    assert clash.status_code == 409  # the same key for another request, even inside one group
    assert {r.status_code for r in unkeyed} == {202} and len({r.json()["request_id"] for r in unkeyed}) == 6
    assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone()[0] == 7


async def test_a_row_the_database_refuses_fails_only_its_own_caller(
    db_url: str, conn: psycopg.Connection
) -> None:
    # This test's own database refuses one subject: the group's statement fails, each is retried alone.
    conn.execute(
        "ALTER TABLE prediction_requests ADD CONSTRAINT test_refuse CHECK (subject_ref <> 'refuse-me')"
    )
    async with AsyncConnectionPool(db_url, min_size=2, kwargs={"autocommit": True}) as pool:
        groups = SubmissionGroups(pool)
        refs = [f"ok-{i}" for i in range(9)] + ["refuse-me"]
        ids = [new_request_id() for _ in refs]
        results = await asyncio.gather(
            *(groups.submit(i, "logistic", employee(), None, ref) for i, ref in zip(ids, refs, strict=True)),
            return_exceptions=True,
        )
    assert isinstance(results[-1], psycopg.errors.CheckViolation)
    assert [r.request_id for r in results[:-1]] == ids[:-1]  # type: ignore[union-attr]
    stored = {UUID(str(r[0])) for r in conn.execute("SELECT request_id FROM prediction_requests")}
    assert stored == set(ids[:-1])


async def test_submissions_arriving_together_share_one_statement(
    db_url: str, conn: psycopg.Connection
) -> None:
    # The flush takes its group when it starts: the first arrivals of a turn do not go out alone.
    async with AsyncConnectionPool(db_url, min_size=2, kwargs={"autocommit": True}) as pool:
        groups = SubmissionGroups(pool)
        ids = [new_request_id() for _ in range(12)]
        rows = await asyncio.gather(*(groups.submit(i, "logistic", employee(), None) for i in ids))
    assert [r.request_id for r in rows] == ids
    assert (groups.groups, groups.rows) == (1, 12)
    assert len({r[0] for r in conn.execute("SELECT xmin::text FROM prediction_requests")}) == 1


COMPLETE_ALL = """
WITH r AS (
    UPDATE prediction_requests SET status = 'completed', completed_at = clock_timestamp()
    WHERE status = 'pending' RETURNING id, (features->>'age')::int AS age
)
INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)
SELECT id, 1, age / 100.0, 'v-test', repeat('0', 64) FROM r
"""


async def test_waiters_woken_together_each_read_their_own_answer(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    async def wait_for(age: int) -> httpx.Response:
        body = {"features": employee(age=age)}
        return await client.post("/predictions/request", params={"wait": 20}, json=body)

    calls = [asyncio.create_task(wait_for(20 + i)) for i in range(20)]
    await eventually(  # every request stored, none answered yet
        lambda: conn.execute("SELECT count(*) FROM prediction_requests").fetchone()[0] == 20,
        "all twenty requests are stored",
    )
    conn.execute(COMPLETE_ALL)  # one statement answers all twenty: their waiters wake together
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200] * 20
    for i, r in enumerate(responses):
        assert r.json()["features"]["age"] == 20 + i
        assert r.json()["result"]["probability"] == pytest.approx((20 + i) / 100)
        assert r.json()["status"] == "completed"
