"""A batch whose outcome the database refuses fails its rows with the reason, rather than handing them back
to be claimed (and refused) forever; the listener carries on with the next requests."""

from __future__ import annotations

import psycopg

from listener.config import ListenerConfig
from listener.daemon import Listener
from tests.listener.helpers import FakeHandle, FakeRegistry, all_done, running_in_thread, submit, wait_until

QUIET = {"sweep_seconds": 60.0, "heartbeat_seconds": 60.0, "ping_seconds": 60.0}
PROMPTLY = 20  # generous for a busy machine, yet below the 60 s sweep


def test_a_batch_the_database_refuses_fails_its_rows_with_the_reason(
    db_url: str, conn: psycopg.Connection
) -> None:
    registry = FakeRegistry("logistic", "dummy")
    # PostgreSQL text cannot hold NUL: every result of this model is refused when it is written.
    registry.handles["dummy"] = FakeHandle("dummy", version="v1\x00broken")
    listener = Listener(ListenerConfig(database_url=db_url, **QUIET), registry=registry)
    with running_in_thread(listener):
        refused = submit(conn, 20, model="dummy")
        assert wait_until(all_done(conn, refused), PROMPTLY)
        fine = submit(conn, 5, model="logistic")
        assert wait_until(all_done(conn, fine), PROMPTLY)

    rows = conn.execute(
        "SELECT status, error, attempts FROM prediction_requests WHERE id = ANY(%s)", [refused]
    ).fetchall()
    assert {status for status, _, _ in rows} == {"failed"}
    assert all(error.startswith("could not record the outcome:") and "NUL" in error for _, error, _ in rows)
    assert {attempts for _, _, attempts in rows} == {1}  # failed once, not claimed again and again
    assert conn.execute(
        "SELECT count(*) FROM prediction_results res JOIN prediction_requests r ON r.id = res.request_id"
        " WHERE r.model_name = 'dummy'"
    ).fetchone() == (0,)
    completed = conn.execute(
        "SELECT count(*) FROM prediction_requests WHERE id = ANY(%s) AND status = 'completed'", [fine]
    ).fetchone()
    assert completed == (5,)
