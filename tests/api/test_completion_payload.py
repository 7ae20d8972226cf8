"""?wait=S answered from the completion notification (schema 022) gives the bytes a re-read gives, and
falls back to the re-read when the notification does not carry the whole answer (an outcome, a long
error, a database whose trigger predates 022) or when API_ANSWER_FROM_NOTIFY is off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql as pgsql

from service.answers import stored_features
from service.grouping import ReadGroups
from sql import json_codec
from tests.api.conftest import api_settings, employee, eventually, in_process, play_listener, stand_in_app
from tests.api.test_wait import LONG_WAIT, pending_id
from tests.logins import login_url

pytestmark = pytest.mark.anyio

FAIL = (
    "UPDATE prediction_requests SET status = 'failed', error = %s, completed_at = now() WHERE request_id = %s"
)
# notify_prediction_completed as schema 002 wrote it: the bare request_id, as a database before 022 sends.
TRIGGER_BEFORE_022 = """
CREATE OR REPLACE FUNCTION notify_prediction_completed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prediction_completed', r.request_id::text)
    FROM new_rows n JOIN prediction_requests r ON r.id = n.request_id;
    RETURN NULL;
END;
$$
"""


class CountedReads(ReadGroups):
    """The API's grouped reads, counted: how many times a waiter went back to the database."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.count = 0

    async def get(self, request_id: UUID) -> dict[str, Any] | None:
        self.count += 1
        return await super().get(request_id)


async def counted_client(
    db_url: str, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, CountedReads]]:
    app = stand_in_app(api_settings(db_url, **overrides))
    async with in_process(app) as client:
        svc = app.state.services
        svc.reads = reads = CountedReads(svc.pool)
        # Listening before anyone waits: the hub's first connect wakes every waiter to re-read.
        await eventually(lambda: svc.hub.connected, "the API listens for completions")
        yield client, reads


@pytest.fixture
async def counted(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, CountedReads]]:
    async for pair in counted_client(db_url):
        yield pair


@pytest.fixture
async def rereading(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, CountedReads]]:
    async for pair in counted_client(db_url, api_answer_from_notify=False):
        yield pair


async def submit_and_wait(client: httpx.AsyncClient, features: dict[str, Any] | None = None) -> asyncio.Task:
    body = {"model_name": "logistic", "features": features or employee(), "subject_ref": "emp-7"}
    return asyncio.create_task(client.post(f"/predictions/request?wait={LONG_WAIT}", json=body))


async def reread(client: httpx.AsyncClient, request_id: str) -> bytes:
    """GET /predictions/{id} without wait: always the database's row."""
    return (await client.get(f"/predictions/{request_id}")).content


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns"])
async def test_submit_and_wait_answers_from_the_notification_the_bytes_a_reread_gives(
    db_url: str, conn: psycopg.Connection, zone: str
) -> None:
    # The API's sessions in that time zone (St John's: off the hour): the result's timestamp is rebuilt
    # in it from the payload's microseconds.
    alter = pgsql.SQL("ALTER DATABASE {} SET timezone = {}")
    conn.execute(alter.format(pgsql.Identifier(conn.info.dbname), pgsql.Literal(zone)))
    async for client, reads in counted_client(db_url):
        call = await submit_and_wait(client)
        request_id = await pending_id(db_url)
        # As the listener's role, which may not read the outcomes the trigger checks for.
        await play_listener(login_url(db_url, "listener"), request_id, prediction=1, probability=0.1 + 0.2)
        answer = await call
        assert answer.status_code == 200
        assert reads.count == 0  # answered from the payload
        assert answer.content == await reread(client, request_id)
        assert answer.json()["result"]["probability"] == 0.1 + 0.2


async def test_submit_and_wait_answers_a_failure_from_the_notification(
    counted: tuple[httpx.AsyncClient, CountedReads], db_url: str, conn: psycopg.Connection
) -> None:
    client, reads = counted
    call = await submit_and_wait(client)
    request_id = await pending_id(db_url)
    with psycopg.connect(login_url(db_url, "listener"), autocommit=True) as listener:
        listener.execute(FAIL, ["model refused: a|b|c", request_id])
    answer = await call
    assert reads.count == 0
    assert answer.json()["status"] == "failed" and answer.json()["error"] == "model refused: a|b|c"
    assert answer.content == await reread(client, request_id)


async def test_get_with_wait_answers_from_the_notification_after_its_first_read(
    counted: tuple[httpx.AsyncClient, CountedReads], db_url: str
) -> None:
    client, reads = counted
    submitted = (await client.post("/predictions/request", json={"features": employee()})).json()
    call = asyncio.create_task(client.get(f"/predictions/{submitted['request_id']}?wait={LONG_WAIT}"))
    await asyncio.sleep(0.2)  # (either way right: the first read may also see the answer)
    await play_listener(db_url, submitted["request_id"], prediction=0, probability=0.125)
    answer = await call
    assert answer.json()["status"] == "completed"
    assert reads.count == 1
    assert answer.content == await reread(client, submitted["request_id"])


async def test_a_request_with_an_outcome_is_reread(
    counted: tuple[httpx.AsyncClient, CountedReads], db_url: str, conn: psycopg.Connection
) -> None:
    client, reads = counted
    call = await submit_and_wait(client)
    request_id = await pending_id(db_url)
    posted = await client.post("/outcomes", json={"items": [{"request_id": request_id, "label": 1}]})
    assert posted.status_code == 200 and posted.json()["recorded"] == 1, posted.text
    await play_listener(db_url, request_id)
    answer = await call
    assert reads.count == 1  # the notification said "re-read": the answer carries the outcome
    assert answer.json()["outcome"]["label"] == 1
    assert answer.content == await reread(client, request_id)


async def test_an_error_beyond_the_notification_limit_is_reread(
    counted: tuple[httpx.AsyncClient, CountedReads], db_url: str, conn: psycopg.Connection
) -> None:
    client, reads = counted
    call = await submit_and_wait(client)
    request_id = await pending_id(db_url)
    conn.execute(FAIL, ["é" * 5000, request_id])  # 10,000 bytes: more than a NOTIFY payload may hold
    answer = await call
    assert reads.count == 1
    assert answer.json()["error"] == "é" * 5000
    assert answer.content == await reread(client, request_id)


async def test_a_database_before_022_is_answered_by_the_reread(
    counted: tuple[httpx.AsyncClient, CountedReads], db_url: str, conn: psycopg.Connection
) -> None:
    client, reads = counted
    conn.execute(TRIGGER_BEFORE_022)
    call = await submit_and_wait(client)
    request_id = await pending_id(db_url)
    await play_listener(db_url, request_id, probability=0.5)
    answer = await call
    assert answer.status_code == 200 and reads.count == 1
    assert answer.content == await reread(client, request_id)


async def test_with_answers_from_notify_off_every_wait_rereads(
    rereading: tuple[httpx.AsyncClient, CountedReads], db_url: str
) -> None:
    client, reads = rereading
    call = await submit_and_wait(client)
    request_id = await pending_id(db_url)
    await play_listener(db_url, request_id)
    answer = await call
    assert answer.status_code == 200 and reads.count == 1
    assert answer.content == await reread(client, request_id)


# Feature objects of any scalar values (floats of every size, -0.0, any text, keys of any length):
# whenever stored_features says how a jsonb column gives them back, that is what it gives back.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([-0.0, 1e16, 9999999999999998.0, 1e-7, 5e-324])
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)
)
KEYS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(features=st.dictionaries(KEYS, SCALARS | st.lists(st.integers(), max_size=2), max_size=8))
def test_stored_features_are_what_jsonb_gives_back(
    conn: psycopg.Connection, features: dict[str, Any]
) -> None:
    json_codec.use_fast_json()  # what the API's pool loads jsonb with
    stored = stored_features(features)
    [back] = conn.execute("SELECT %s::jsonb", [json_codec.dumps(features)]).fetchone()
    if stored is not None:
        assert json.dumps(stored) == json.dumps(back)  # same keys, values, types and order
