"""A batch is stored chunk by chunk (each chunk its own commit, so the listener starts on the first while
the rest are stored): ids stay in the items' order, a failure after a committed chunk says the batch may
be stored, a retry under the same Idempotency-Key stores the rest once, and a key reused for other
items is 409."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import httpx
import psycopg
import pytest

from service import submissions
from service.ids import new_request_ids
from service.repository import requests
from tests.api.conftest import employee

pytestmark = pytest.mark.anyio

CHUNK = 3


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(requests, "BATCH_CHUNK_ROWS", CHUNK)
    yield


def items(n: int) -> list[dict[str, object]]:
    return [employee(age=20 + i) for i in range(n)]


def with_taken_id(monkeypatch: pytest.MonkeyPatch, taken: str, at: int) -> list[UUID]:
    """The next batch's ids: fresh ones, except the id at `at`, which another request already holds."""
    planned: list[UUID] = []

    def ids(count: int) -> list[UUID]:
        planned[:] = new_request_ids(count)
        planned[at] = UUID(taken)
        return list(planned)

    monkeypatch.setattr(submissions, "new_request_ids", ids)
    return planned


async def test_a_batch_of_several_chunks_commits_each_and_keeps_the_items_order(
    client: httpx.AsyncClient, conn: psycopg.Connection, db_url: str
) -> None:
    body = {"model_name": "logistic", "items": items(7)}
    body["items"][4] = {"features": employee(age=24), "subject_ref": "emp-4"}
    with psycopg.connect(db_url, autocommit=True) as listening:
        listening.execute("LISTEN prediction_requested")
        response = await client.post("/predictions/batch", json=body)
        assert response.status_code == 202, response.text
        notes = list(listening.notifies(timeout=30, stop_after=3))
    assert len(notes) == 3  # 7 rows in chunks of 3: three commits, each notifying the listeners
    ids = response.json()["request_ids"]
    stored = conn.execute(
        "SELECT request_id::text, model_name, status, (features->>'age')::int, subject_ref"
        " FROM prediction_requests ORDER BY id"
    ).fetchall()
    assert [row[0] for row in stored] == ids
    assert [row[3] for row in stored] == [20 + i for i in range(7)]
    assert {(row[1], row[2]) for row in stored} == {("logistic", "pending")}
    assert [row[4] for row in stored] == [None] * 4 + ["emp-4", None, None]
    got = (await client.get(f"/predictions/{ids[4]}")).json()
    assert got["features"] == employee(age=24) and got["subject_ref"] == "emp-4"


async def test_a_batch_failing_after_its_first_chunk_may_be_stored(
    client: httpx.AsyncClient, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = (await client.post("/predictions/request", json={"features": employee()})).json()["request_id"]
    planned = with_taken_id(monkeypatch, taken, at=4)  # in the second chunk
    response = await client.post("/predictions/batch", json={"items": items(7)})
    assert response.status_code == 503 and response.headers["retry-after"]
    assert "may have been stored" in response.json()["detail"] and "history" in response.json()["detail"]
    rows = conn.execute("SELECT request_id FROM prediction_requests ORDER BY id").fetchall()
    assert [row[0] for row in rows] == [UUID(taken), *planned[:CHUNK]]  # the first chunk, committed


async def test_a_keyed_retry_of_a_partly_stored_batch_stores_the_rest_once(
    client: httpx.AsyncClient, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = (await client.post("/predictions/request", json={"features": employee()})).json()["request_id"]
    body = {"items": items(7)}
    headers = {"Idempotency-Key": "nightly"}
    planned = with_taken_id(monkeypatch, taken, at=4)
    failed = await client.post("/predictions/batch", json=body, headers=headers)
    assert failed.status_code == 503 and "same Idempotency-Key" in failed.json()["detail"]
    monkeypatch.setattr(submissions, "new_request_ids", new_request_ids)

    retried = await client.post("/predictions/batch", json=body, headers=headers)
    assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers
    ids = retried.json()["request_ids"]
    assert ids[:CHUNK] == [str(i) for i in planned[:CHUNK]]  # the originals of the stored chunk
    stored = conn.execute(
        "SELECT request_id::text, (features->>'age')::int FROM prediction_requests"
        " WHERE idempotency_key LIKE 'batch:nightly:%' ORDER BY split_part(idempotency_key, ':', 3)::int"
    ).fetchall()
    assert stored == [(rid, 20 + i) for i, rid in enumerate(ids)]  # each item once, in order

    again = await client.post("/predictions/batch", json=body, headers=headers)
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["request_ids"] == ids


@pytest.mark.parametrize(
    "other",
    [
        {"items": [*items(6), employee(age=60)]},  # one item differs, in the last chunk
        {"model_name": "dummy", "items": items(7)},  # the same items for another model
    ],
)
async def test_a_key_reused_for_another_batch_is_409_and_stores_nothing_more(
    client: httpx.AsyncClient, conn: psycopg.Connection, other: dict[str, object]
) -> None:
    headers = {"Idempotency-Key": "weekly"}
    first = await client.post(
        "/predictions/batch", json={"model_name": "logistic", "items": items(7)}, headers=headers
    )
    assert first.status_code == 202
    clash = await client.post("/predictions/batch", json={"model_name": "logistic", **other}, headers=headers)
    assert clash.status_code == 409 and "weekly" in clash.json()["detail"]
    assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (7,)
