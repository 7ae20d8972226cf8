"""POST /outcomes: the observed truth recorded by request id or by subject, idempotently, with corrections
kept as history and unknown ids reported; requests carry subject_ref; GET /predictions/{id} shows it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import employee, play_listener

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)
OBSERVED = NOW.isoformat()


async def submit(client: httpx.AsyncClient, subject_ref: str | None = None) -> str:
    body: dict[str, Any] = {"model_name": "logistic", "features": employee()}
    if subject_ref is not None:
        body["subject_ref"] = subject_ref
    response = await client.post("/predictions/request", json=body)
    assert response.status_code == 202, response.text
    return response.json()["request_id"]


async def post(client: httpx.AsyncClient, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = await client.post("/outcomes", json={"items": list(items), **extra})
    assert response.status_code == 200, response.text
    return response.json()


def counts(answer: dict[str, Any]) -> tuple[int, int, int, int, int]:
    return (
        answer["matched"],
        answer["recorded"],
        answer["corrected"],
        answer["unchanged"],
        answer["unknown"],
    )


def outcome_rows(conn: psycopg.Connection, request_id: str) -> list[tuple[int, bool]]:
    """(label, current) of every outcome of one request, oldest first."""
    return conn.execute(
        "SELECT o.label, o.superseded_at IS NULL FROM prediction_outcomes o"
        " JOIN prediction_requests r ON r.id = o.request_id WHERE r.request_id = %s ORDER BY o.id",
        [request_id],
    ).fetchall()


def backdate(conn: psycopg.Connection, request_id: str, days: float) -> None:
    conn.execute(
        "UPDATE prediction_requests SET created_at = now() - make_interval(days => %s) WHERE request_id = %s",
        [days, request_id],
    )


async def test_an_outcome_by_request_id_shows_on_the_prediction(
    client: httpx.AsyncClient, db_url: str
) -> None:
    request_id = await submit(client)
    await play_listener(db_url, request_id, prediction=1, probability=0.8)

    answer = await post(client, {"request_id": request_id, "label": 1, "observed_at": OBSERVED})

    assert counts(answer) == (1, 1, 0, 0, 0)
    assert answer["items"] == 1 and answer["unknown_request_ids"] == []
    got = (await client.get(f"/predictions/{request_id}")).json()
    assert got["result"]["prediction"] == 1
    assert got["outcome"]["label"] == 1
    assert datetime.fromisoformat(got["outcome"]["observed_at"]) == NOW
    assert "request_id" in got["outcome"]["source"]


async def test_posting_the_same_outcomes_twice_changes_nothing(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    ids = [await submit(client) for _ in range(3)]
    items = [{"request_id": rid, "label": n % 2, "observed_at": OBSERVED} for n, rid in enumerate(ids)]

    first = await post(client, *items)
    second = await post(client, *items)

    assert counts(first) == (3, 3, 0, 0, 0)
    assert counts(second) == (3, 0, 0, 3, 0)
    assert conn.execute("SELECT count(*) FROM prediction_outcomes").fetchone() == (3,)


async def test_a_correction_supersedes_the_outcome_and_keeps_the_old_one(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    request_id = await submit(client)
    await post(client, {"request_id": request_id, "label": 0, "observed_at": OBSERVED})

    corrected = await post(client, {"request_id": request_id, "label": 1, "observed_at": OBSERVED})

    assert counts(corrected) == (1, 1, 1, 0, 0)
    assert outcome_rows(conn, request_id) == [(0, False), (1, True)]
    assert (await client.get(f"/predictions/{request_id}")).json()["outcome"]["label"] == 1


async def test_an_outcome_by_subject_applies_to_its_predictions_within_the_horizon(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    recent = [await submit(client, "E-1001") for _ in range(2)]
    too_old = await submit(client, "E-1001")
    backdate(conn, too_old, days=400)
    other_subject = await submit(client, "E-2002")
    observed = datetime.now(UTC).isoformat()
    after = await submit(client, "E-1001")  # made after the outcome was observed

    answer = await post(client, {"subject_ref": "E-1001", "label": 1, "observed_at": observed})

    assert counts(answer) == (2, 2, 0, 0, 0) and answer["horizon_days"] == 365
    for rid in recent:
        assert outcome_rows(conn, rid) == [(1, True)]
    for rid in (too_old, other_subject, after):
        assert outcome_rows(conn, rid) == []
    wider = await post(
        client, {"subject_ref": "E-1001", "label": 1, "observed_at": observed}, horizon_days=500
    )
    assert counts(wider) == (3, 1, 0, 2, 0) and outcome_rows(conn, too_old) == [(1, True)]


async def test_unknown_ids_and_subjects_are_reported_not_dropped(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    known = await submit(client, "E-1")
    ghost = str(uuid.uuid4())
    answer = await post(
        client,
        {"request_id": ghost, "label": 1, "observed_at": OBSERVED},
        {"request_id": known, "label": 0, "observed_at": OBSERVED},
        {"subject_ref": "E-unknown", "label": 0, "observed_at": OBSERVED},
    )

    assert counts(answer) == (1, 1, 0, 0, 2)
    assert answer["unknown_request_ids"] == [ghost]
    assert answer["unknown_subject_refs"] == ["E-unknown"]
    assert conn.execute("SELECT count(*) FROM prediction_outcomes").fetchone() == (1,)


async def test_a_request_matched_twice_in_one_post_takes_the_last_item(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    request_id = await submit(client, "E-7")
    observed = datetime.now(UTC).isoformat()
    answer = await post(
        client,
        {"request_id": request_id, "label": 0, "observed_at": observed},
        {"subject_ref": "E-7", "label": 1, "observed_at": observed},
    )
    assert counts(answer) == (1, 1, 0, 0, 0)
    assert outcome_rows(conn, request_id) == [(1, True)]


async def test_two_posts_at_once_record_one_outcome(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    ids = [await submit(client) for _ in range(50)]
    items = [{"request_id": rid, "label": 1, "observed_at": OBSERVED} for rid in ids]

    answers = await asyncio.gather(*(post(client, *items) for _ in range(4)))

    assert sum(a["recorded"] for a in answers) == 50
    assert all(a["matched"] == 50 and a["unknown"] == 0 for a in answers)
    assert conn.execute("SELECT count(*) FROM prediction_outcomes").fetchone() == (50,)


async def test_ten_thousand_outcomes_in_one_call(client: httpx.AsyncClient, conn: psycopg.Connection) -> None:
    batch = await client.post(
        "/predictions/batch", json={"model_name": "logistic", "items": [employee()] * 10_000}
    )
    ids = batch.json()["request_ids"]
    items = [{"request_id": rid, "label": n % 2, "observed_at": OBSERVED} for n, rid in enumerate(ids)]

    answer = await post(client, *items)

    assert counts(answer) == (10_000, 10_000, 0, 0, 0)
    assert conn.execute("SELECT sum(label) FROM prediction_outcomes").fetchone() == (5_000,)
    too_many = await client.post("/outcomes", json={"items": [*items, items[0]]})
    assert too_many.status_code == 422 and "items" in str(too_many.json())


@pytest.mark.parametrize(
    ("item", "where", "words"),
    [
        ({"label": 1, "observed_at": OBSERVED}, "items.0", "exactly one of request_id or subject_ref"),
        (
            {"request_id": str(uuid.uuid4()), "subject_ref": "E", "label": 1, "observed_at": OBSERVED},
            "items.0",
            "exactly one",
        ),
        ({"request_id": "nope", "label": 1, "observed_at": OBSERVED}, "items.0.request_id", "UUID"),
        ({"subject_ref": "E", "label": 2, "observed_at": OBSERVED}, "items.0.label", "0 or 1"),
        (
            {"subject_ref": "E", "label": 1, "observed_at": "2999-01-01T00:00:00Z"},
            "items.0.observed_at",
            "future",
        ),
        ({"subject_ref": "x" * 201, "label": 1, "observed_at": OBSERVED}, "items.0.subject_ref", "200"),
    ],
)
async def test_bad_outcomes_get_422_naming_the_item(
    client: httpx.AsyncClient, item: dict[str, Any], where: str, words: str
) -> None:
    response = await client.post("/outcomes", json={"items": [item]})
    assert response.status_code == 422
    messages = [e["msg"] for e in response.json()["detail"]]
    assert any(where in m and words in m for m in messages), messages


async def test_subject_refs_travel_with_single_and_batch_requests(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    single = await submit(client, "E-1")
    batch = await client.post(
        "/predictions/batch",
        json={
            "model_name": "logistic",
            "items": [
                {**employee(), "subject_ref": "E-2"},
                {"features": employee(), "subject_ref": "E-3"},
                employee(),
            ],
        },
    )
    assert batch.status_code == 202, batch.text
    ids = [single, *batch.json()["request_ids"]]

    refs = [(await client.get(f"/predictions/{rid}")).json()["subject_ref"] for rid in ids]

    assert refs == ["E-1", "E-2", "E-3", None]
    stored = conn.execute("SELECT features ? 'subject_ref' FROM prediction_requests").fetchall()
    assert stored == [(False,)] * 4


async def test_a_bad_subject_ref_in_a_batch_is_422_naming_the_item(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/predictions/batch", json={"items": [employee(), {**employee(), "subject_ref": 42}]}
    )
    assert response.status_code == 422
    assert "items.1.subject_ref" in response.json()["detail"][0]["msg"]
    single = await client.post("/predictions/request", json={"features": employee(), "subject_ref": ""})
    assert single.status_code == 422 and "subject_ref" in single.json()["detail"][0]["msg"]


async def test_an_outcome_without_observed_at_was_observed_now(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    request_id = await submit(client, "E-9")
    before = datetime.now(UTC)

    answer = await post(client, {"subject_ref": "E-9", "label": 1})

    assert counts(answer) == (1, 1, 0, 0, 0)
    observed = datetime.fromisoformat(
        (await client.get(f"/predictions/{request_id}")).json()["outcome"]["observed_at"]
    )
    assert before <= observed <= datetime.now(UTC)
