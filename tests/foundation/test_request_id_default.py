"""A request row inserted without an id (SQL by hand, a script) gets a UUIDv7, as the API's ids are."""

from __future__ import annotations

from uuid import UUID

import psycopg

CLOCK_MS = "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


def test_a_row_inserted_without_a_request_id_gets_a_time_ordered_uuidv7(conn: psycopg.Connection) -> None:
    [(before,)] = conn.execute(CLOCK_MS).fetchall()
    ids = [
        UUID(str(row[0]))
        for row in conn.execute(
            "INSERT INTO prediction_requests (model_name, features)"
            " SELECT 'logistic', '{}' FROM generate_series(1, 3) RETURNING request_id"
        ).fetchall()
    ]
    [(after,)] = conn.execute(CLOCK_MS).fetchall()
    assert len(set(ids)) == 3
    for request_id in ids:
        assert request_id.version == 7 and request_id.variant == "specified in RFC 4122"
        assert before <= request_id.int >> 80 <= after  # its first 48 bits: Unix milliseconds of the insert
