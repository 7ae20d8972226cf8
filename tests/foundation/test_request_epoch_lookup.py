"""GET /predictions/{id}'s query finds a request by its public id in whichever partition it is: the one
its UUIDv7 time points to (020), and every other one when the id is a v4, was minted long before it was
inserted, or is unknown."""

from __future__ import annotations

import time
import uuid

import psycopg

from service.ids import _uuid7, new_request_id
from sql.named_queries import QUERIES
from tests.foundation.test_partitioning import insert, open_next_epoch


def get(conn: psycopg.Connection, request_id: uuid.UUID) -> tuple | None:
    """As service/repository/requests.py get_prediction: where the id's time points, then everywhere."""
    row = conn.execute(QUERIES["get_prediction"], {"request_id": request_id}).fetchone()
    if row is None:
        row = conn.execute(QUERIES["get_prediction_everywhere"], {"request_id": request_id}).fetchone()
    return row


def found_where_its_time_points(conn: psycopg.Connection, request_id: uuid.UUID) -> bool:
    return conn.execute(QUERIES["get_prediction"], {"request_id": request_id}).fetchone() is not None


def test_opening_an_epoch_records_when(conn: psycopg.Connection) -> None:
    before = conn.execute("SELECT count(*) FROM request_epoch_times").fetchone()[0]  # type: ignore[index]
    open_next_epoch(conn)
    epoch = conn.execute(QUERIES["current_epoch"]).fetchone()[0]  # type: ignore[index]
    assert conn.execute("SELECT count(*), max(epoch) FROM request_epoch_times").fetchone() == (
        before + 1,
        epoch,
    )


def test_lookups_find_ids_minted_before_an_epoch_switch_v4_ids_and_old_v7_ids(
    conn: psycopg.Connection,
) -> None:
    in_first = new_request_id()
    insert(conn, request_id=str(in_first))
    minted_before_switch = new_request_id()
    minted_long_before = _uuid7(time.time_ns() // 1_000_000 - 3_600_000, b"\x01" * 10)
    v4 = uuid.uuid4()
    open_next_epoch(conn)
    for request_id in (minted_before_switch, minted_long_before, v4):
        insert(conn, request_id=str(request_id))
    epochs = dict(
        conn.execute(
            "SELECT request_id, request_epoch(id) FROM prediction_requests WHERE request_id = ANY(%s)",
            [[in_first, minted_before_switch, minted_long_before, v4]],
        ).fetchall()
    )
    assert epochs[in_first] + 1 == epochs[minted_before_switch] == epochs[minted_long_before] == epochs[v4]
    for request_id in (in_first, minted_before_switch, minted_long_before, v4):
        row = get(conn, request_id)
        assert row is not None and row[0] == request_id
    # The ids whose time points to their epoch are found without asking every partition.
    assert found_where_its_time_points(conn, in_first)
    assert found_where_its_time_points(conn, minted_before_switch)
    assert found_where_its_time_points(conn, v4)
    assert get(conn, new_request_id()) is None
    assert get(conn, uuid.uuid4()) is None
