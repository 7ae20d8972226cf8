"""The hot path with 10,000,000 requests across partitions against an empty database, and one retention
run (issue 11, item 3): p99 submit-to-result through the API, the claim query, the result insert and
GET /predictions/{id}, each as a ratio to the empty database (target <= 1.2), then how long removing
one expired partition takes, its longest DDL statement (detach CONCURRENTLY, drop: they block no
traffic) and its longest attach of a new partition (inserts wait for that one)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from bench import workload
from listener.claims import claim_pending, record_outcomes
from listener.outcomes import BatchOutcome
from sql.queries import QUERIES
from sql.retention import run_retention

if TYPE_CHECKING:
    from bench.__main__ import Bench

FILL = (Path(__file__).parent / "fill_epoch.sql").read_text()
SIZES = {  # (partitions, requests per partition, hot-path samples)
    "smoke": (2, 10_000, 20),
    "quick": (10, 1_000_000, 300),
    "full": (10, 1_000_000, 2000),
}
TARGETS = {
    "partitions.ratio.submit_to_result_p99": ("<=", 1.2),
    "partitions.ratio.claim_query_p99": ("<=", 1.2),
}


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def hot_path(url: str, client: Any, rows: list[dict], n: int, listener_running: bool) -> dict[str, Any]:
    """Submit-to-result through the API (listener running), then, with no listener, the claim query,
    the result insert and GET /predictions/{id} timed one request at a time."""
    figures: dict[str, Any] = {}
    if listener_running:
        samples = workload.sequential_latency(client, "logistic", rows, n)
        figures["submit_to_result"] = workload.percentiles(samples)
        return figures
    claims, inserts, gets = [], [], []
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(n):
            request_id = str(uuid.uuid4())
            conn.execute(
                QUERIES["insert_prediction_request"],
                {
                    "request_id": request_id,
                    "model_name": "logistic",
                    "features": json.dumps(rows[i % len(rows)]),
                    "idempotency_key": None,
                    "subject_ref": None,
                },
            )
            start = time.perf_counter()
            [claim] = claim_pending(conn, "bench:partitions", 1, 30.0)
            claims.append(_ms(start))
            outcome = BatchOutcome()
            outcome.add_results([claim.id], [0], [0.1], "bench", "0" * 64)
            start = time.perf_counter()
            record_outcomes(conn, "bench:partitions", outcome)
            inserts.append(_ms(start))
            start = time.perf_counter()
            assert client.get(f"/predictions/{request_id}").status_code == 200
            gets.append(_ms(start))
    figures["claim_query"] = workload.percentiles(claims)
    figures["result_insert"] = workload.percentiles(inserts)
    figures["get_prediction"] = workload.percentiles(gets)
    return figures


def run(bench: Bench, mode: str) -> None:
    partitions, per_partition, n = SIZES[mode]
    url = bench.stack.new_database()
    api, _, client = bench.api(url)
    rows = workload.feature_rows()
    listener = bench.stack.start("listener", url)
    bench.warm(client, rows)
    measured: dict[str, dict[str, Any]] = {}
    workload_log(f"partitions: hot path on the empty database ({n} samples)")
    measured["empty"] = hot_path(url, client, rows, n, listener_running=True)
    bench.stack.stop(listener)
    measured["empty"].update(hot_path(url, client, rows, n, listener_running=False))

    total = partitions * per_partition
    workload_log(f"partitions: filling {total:,} requests with results across {partitions} partitions")
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        # Epoch e holds the requests of day (partitions - e) before today; the last one is current.
        first = conn.execute(QUERIES["current_epoch"]).fetchone()[0] + 1  # type: ignore[index]
        for k in range(partitions):
            conn.execute("SELECT ensure_request_partition(%s)", [first + k])
            conn.execute("SET session_replication_role = replica")
            conn.execute(
                FILL,
                {"epoch": first + k, "n": per_partition, "days_ago": partitions - k, "span_days": 1},
            )
            conn.execute("RESET session_replication_role")
        conn.execute(
            "SELECT setval('prediction_requests_id_seq',"
            " (SELECT max(id) FROM prediction_requests) + 1, false)"
        )
        conn.execute("SELECT ensure_request_partition(%s)", [first + partitions])
        for table in ("prediction_requests", "prediction_results"):
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("CHECKPOINT")
    bench.figures["partitions.fill_s"] = round(time.perf_counter() - started, 1)

    listener = bench.stack.start("listener", url)
    bench.warm(client, rows)
    workload_log("partitions: hot path with the partitions filled")
    label = f"rows_{total}"
    measured[label] = hot_path(url, client, rows, n, listener_running=True)
    bench.stack.stop(listener)
    measured[label].update(hot_path(url, client, rows, n, listener_running=False))
    for state, figures in measured.items():
        for name, value in figures.items():
            bench.figures[f"partitions.{state}.{name}"] = value
    for name in ("submit_to_result", "claim_query", "result_insert", "get_prediction"):
        ratio = measured[label][name]["p99_ms"] / measured["empty"][name]["p99_ms"]
        bench.figures[f"partitions.ratio.{name}_p99"] = round(ratio, 2)

    workload_log("partitions: retention of the oldest partition")
    report = run_retention(url, older_than_days=partitions - 1.5, actor="bench")
    bench.figures["partitions.retention_one_partition"] = {
        "partitions": len(report.removed_epochs),
        "requests": report.rows.get("prediction_requests", 0),
        "seconds": round(report.seconds, 3),
        "longest_ddl_ms": round(report.longest_ddl_seconds * 1000, 1),
        "longest_blocking_ddl_ms": round(report.longest_blocking_seconds * 1000, 1),
    }
    bench.stack.stop(api)


def workload_log(msg: str) -> None:
    from bench.__main__ import log

    log(msg)
