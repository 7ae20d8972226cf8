"""The schema as a DBA meets it: comments everywhere, 1-1 results, one notification per insert."""

from __future__ import annotations

import json

import psycopg
import pytest

FEATURES = json.dumps({"age": 41})


def insert_request(conn: psycopg.Connection, model: str = "logistic") -> int:
    row = conn.execute(
        "INSERT INTO prediction_requests (model_name, features) VALUES (%s, %s) RETURNING id",
        [model, FEATURES],
    ).fetchone()
    assert row is not None
    return row[0]


def test_every_table_and_column_has_a_comment(conn: psycopg.Connection) -> None:
    tables = conn.execute(
        "SELECT c.oid, c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
    ).fetchall()
    columns = conn.execute(
        "SELECT c.relname || '.' || a.attname, col_description(c.oid, a.attnum) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
    ).fetchall()
    assert {"prediction_requests", "prediction_results", "model_versions"} <= {t[1] for t in tables}
    assert [name for _, name, comment in tables if not comment] == []
    assert [name for name, comment in columns if not comment] == []


def test_second_result_for_one_request_is_rejected_by_the_database(conn: psycopg.Connection) -> None:
    request = insert_request(conn)
    write = (
        "INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)"
        " VALUES (%s, 1, 0.9, 'v1', %s)"
    )
    conn.execute(write, [request, "0" * 64])
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(write, [request, "0" * 64])


def notes_of_one_commit(listening: psycopg.Connection) -> list[psycopg.Notify]:
    """What the last commit sent: the first notification waited for generously (delivery may lag on a busy
    machine), then any others, which a commit sends along with it."""
    first = list(listening.notifies(timeout=30, stop_after=1))
    return first + list(listening.notifies(timeout=0.5))


def test_a_thousand_row_insert_sends_one_notification(db_url: str, conn: psycopg.Connection) -> None:
    with psycopg.connect(db_url, autocommit=True) as listening:
        listening.execute("LISTEN prediction_requested")
        conn.execute(
            "INSERT INTO prediction_requests (model_name, features)"
            " SELECT 'logistic', %s::jsonb FROM generate_series(1, 1000)",
            [FEATURES],
        )
        notes = notes_of_one_commit(listening)
    assert [n.channel for n in notes] == ["prediction_requested"]


def test_results_notify_completion_with_the_public_request_id(db_url: str, conn: psycopg.Connection) -> None:
    request = insert_request(conn)
    public = conn.execute("SELECT request_id::text FROM prediction_requests WHERE id = %s", [request])
    (public_id,) = public.fetchone() or (None,)
    with psycopg.connect(db_url, autocommit=True) as listening:
        listening.execute("LISTEN prediction_completed")
        conn.execute(
            "INSERT INTO prediction_results"
            " (request_id, prediction, probability, model_version, model_sha256)"
            " VALUES (%s, 0, 0.1, 'v1', %s)",
            [request, "0" * 64],
        )
        notes = notes_of_one_commit(listening)
    assert [n.payload for n in notes] == [public_id]
