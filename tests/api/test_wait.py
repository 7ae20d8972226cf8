"""?wait=S: woken by NOTIFY prediction_completed through the one LISTEN connection of the API process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import httpx
import psycopg
import pytest
from psycopg import sql as pgsql

from service.completions import APPLICATION_NAME
from tests.api.conftest import COMPLETE, employee, eventually, play_listener
from tests.pg import Databases

pytestmark = pytest.mark.anyio

CUT_LISTEN = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s"
FAIL = (
    "UPDATE prediction_requests SET status = 'failed', error = 'boom', completed_at = now()"
    " WHERE request_id = %s"
)


# The longest wait the API grants, and how long before its expiry an answer must come: an answer inside
# that (generous on a busy machine) was woken, by NOTIFY or by the reconnect, not by the wait running out.
LONG_WAIT = 30
MARGIN = 5


async def woken(call: Awaitable[httpx.Response], started: float) -> httpx.Response:
    """The response of a ?wait=LONG_WAIT call made at `started`, which must come before the wait expires."""
    try:
        return await asyncio.wait_for(call, started + LONG_WAIT - MARGIN - time.monotonic())
    except TimeoutError:
        raise AssertionError("not woken: the call sat out its wait") from None


async def pending_id(db_url: str) -> str:
    """The id of the (single) request once its row is committed."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:

        async def stored() -> tuple[str] | None:
            return await (await conn.execute("SELECT request_id::text FROM prediction_requests")).fetchone()

        return (await eventually(stored, "the request row is stored"))[0]


async def test_submit_and_wait_answers_200_with_the_result_once_it_lands(
    client: httpx.AsyncClient, db_url: str
) -> None:
    started = time.monotonic()
    call = asyncio.create_task(
        client.post(
            f"/predictions/request?wait={LONG_WAIT}", json={"model_name": "logistic", "features": employee()}
        )
    )
    request_id = await pending_id(db_url)
    await asyncio.sleep(0.2)
    assert not call.done()
    await play_listener(db_url, request_id, prediction=1, probability=0.75)
    response = await woken(call, started)
    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == request_id and body["status"] == "completed"
    assert body["result"]["prediction"] == 1 and body["result"]["probability"] == 0.75


async def test_submit_and_wait_answers_202_when_nothing_answers_in_time(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.post("/predictions/request?wait=0.4", json={"features": employee()})
    assert time.monotonic() - started >= 0.4  # it waited (a lower bound: no load can break it)
    assert response.status_code == 202 and response.json()["status"] == "pending"


async def test_get_with_wait_returns_a_failed_request_when_it_fails(
    client: httpx.AsyncClient, db_url: str, conn: psycopg.Connection
) -> None:
    submitted = (await client.post("/predictions/request", json={"features": employee()})).json()
    started = time.monotonic()
    call = asyncio.create_task(client.get(f"/predictions/{submitted['request_id']}?wait={LONG_WAIT}"))
    await asyncio.sleep(0.2)
    conn.execute(FAIL, [submitted["request_id"]])
    response = await woken(call, started)
    assert response.status_code == 200
    assert response.json()["status"] == "failed" and response.json()["error"] == "boom"


async def test_get_with_wait_answers_at_once_when_already_done(
    client: httpx.AsyncClient, db_url: str
) -> None:
    submitted = (await client.post("/predictions/request", json={"features": employee()})).json()
    await play_listener(db_url, submitted["request_id"])
    started = time.monotonic()
    response = await woken(client.get(f"/predictions/{submitted['request_id']}?wait={LONG_WAIT}"), started)
    assert response.json()["result"]["model_version"] == "v-test"


async def test_many_waiters_share_one_listen_connection(
    client: httpx.AsyncClient, db_url: str, conn: psycopg.Connection
) -> None:
    calls = [
        asyncio.create_task(
            client.post(f"/predictions/request?wait={LONG_WAIT}", json={"features": employee()})
        )
        for _ in range(30)
    ]
    await eventually(
        lambda: conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (30,),
        "all 30 requests are stored",
    )
    # 30 callers wait, yet the API holds no more than its pool (10) and its one LISTEN connection.
    [api_connections] = conn.execute(
        "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()"
    ).fetchone()
    ids = [r[0] for r in conn.execute("SELECT request_id::text FROM prediction_requests").fetchall()]
    for request_id in ids:
        await play_listener(db_url, request_id)
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200] * 30
    assert api_connections <= 10 + 1


async def health_until(client: httpx.AsyncClient, listening: bool) -> dict:
    async def said() -> dict | None:
        body = (await client.get("/health")).json()
        return body if body["listening"] is listening else None

    return await eventually(said, f"/health says listening={listening}")


async def newest_id(conn: psycopg.Connection) -> str:
    """The id of the newest request, once there is one (read on an open connection)."""
    newest = "SELECT request_id::text FROM prediction_requests ORDER BY id DESC LIMIT 1"
    return (await eventually(lambda: conn.execute(newest).fetchone(), "a request row is stored"))[0]


def allow_connections(databases: Databases, db_url: str, allowed: bool) -> None:
    """ALTER DATABASE … ALLOW_CONNECTIONS, from the server's admin database (not the one altered)."""
    name = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(databases.server_url, autocommit=True) as admin:
        admin.execute(
            pgsql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                pgsql.Identifier(name), pgsql.Literal(allowed)
            )
        )


async def test_a_result_written_while_the_listen_connection_is_down_is_answered(
    client: httpx.AsyncClient, databases: Databases, db_url: str, conn: psycopg.Connection
) -> None:
    await health_until(client, listening=True)
    # Cut the API's LISTEN connection and keep it from coming back; the pool's open connections
    # (and the test's) still work, so results land while no notification can reach the API.
    allow_connections(databases, db_url, False)
    try:
        conn.execute(CUT_LISTEN, [APPLICATION_NAME])
        down = await health_until(client, listening=False)
        assert down["status"] == "degraded" and down["listening_down_seconds"] is not None
        assert "LISTEN" in down["detail"]

        # The notification is lost: the row read at the deadline answers (a deadline that leaves the
        # test, even on a busy machine, the time to complete the row before it).
        call = asyncio.create_task(client.post("/predictions/request?wait=5", json={"features": employee()}))
        request_id = await newest_id(conn)
        conn.execute(COMPLETE, {"request_id": request_id, "prediction": 1, "probability": 0.9})
        response = await call
        assert response.status_code == 200, response.text
        assert response.json()["result"]["probability"] == 0.9

        # A waiter keeps the reconnect prompt, however long the connection has been down; once
        # it is back, every waiter re-reads its row at once instead of at its deadline.
        submitted = (await client.post("/predictions/request", json={"features": employee()})).json()
        started = time.monotonic()
        waiting = asyncio.create_task(client.get(f"/predictions/{submitted['request_id']}?wait={LONG_WAIT}"))
        await asyncio.sleep(6)  # long enough for an unwatched backoff to grow to its cap (5 s)
        conn.execute(COMPLETE, {"request_id": submitted["request_id"], "prediction": 0, "probability": 0.1})
        assert not waiting.done()
    finally:
        allow_connections(databases, db_url, True)
    response = await woken(waiting, started)
    assert response.status_code == 200 and response.json()["result"]["probability"] == 0.1
    assert (await health_until(client, listening=True))["status"] == "ok"
