"""Requests generated in SQL (generate_series) straight into chosen partition epochs, for retention tests
and the benchmark: each epoch's rows are completed requests with a result, spread over a time span."""

from __future__ import annotations

import json

import psycopg

FEATURES = json.dumps({"age": 41, "monthly_income": 5000, "job_level": 2, "overtime": "yes"})


def fill_epoch(
    conn: psycopg.Connection, epoch: int, n: int, days_ago_from: float, days_ago_to: float
) -> None:
    """n completed requests with results in epoch `epoch`, created evenly from `days_ago_from` days ago
    to `days_ago_to` days ago. Triggers and foreign-key checks are skipped (session_replication_role):
    the rows are consistent by construction, and the fill is 3-4 times faster."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SELECT ensure_request_partition(%s)", [epoch])
        conn.execute(
            "INSERT INTO prediction_requests"
            " (id, request_id, model_name, status, features, created_at, claimed_at, completed_at, attempts)"
            " OVERRIDING SYSTEM VALUE"
            " SELECT %(epoch)s * request_epoch_width() + g, gen_random_uuid(), 'logistic', 'completed',"
            "        %(features)s::jsonb, t, t, t, 1"
            " FROM generate_series(1, %(n)s) AS g,"
            "      LATERAL (SELECT now() - make_interval(secs => 86400 * (%(start)s::float8"
            "               - (%(start)s::float8 - %(stop)s::float8) * g / %(n)s))) AS x (t)",
            {"epoch": epoch, "n": n, "features": FEATURES, "start": days_ago_from, "stop": days_ago_to},
        )
        conn.execute(
            "INSERT INTO prediction_results"
            " (request_id, prediction, probability, model_version, model_sha256, created_at)"
            " SELECT id, (id %% 2)::smallint, 0.25 + (id %% 2) * 0.5, 'v-test', repeat('0', 64), created_at"
            " FROM prediction_requests"
            " WHERE id >= %(epoch)s * request_epoch_width() AND id < (%(epoch)s + 1) * request_epoch_width()",
            {"epoch": epoch},
        )


def make_current(conn: psycopg.Connection, epoch: int) -> None:
    """New requests get ids after the generated ones of `epoch` (it becomes the current epoch)."""
    conn.execute("SELECT ensure_request_partition(%s), ensure_request_partition(%s)", [epoch, epoch + 1])
    conn.execute(
        "SELECT setval('prediction_requests_id_seq', greatest(%(epoch)s * request_epoch_width(),"
        " (SELECT coalesce(max(id), 0) FROM prediction_requests)) + 1, false)",
        {"epoch": epoch},
    )
