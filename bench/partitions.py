"""The hot path with 10,000,000 requests across partitions against an empty database, and one retention
run: p99 submit-to-result through the API, the claim query, the result insert and
GET /predictions/{id}, each as a ratio to the empty database (target <= 1.2), then how long removing
one expired partition takes, its longest DDL statement and the longest one inserts waited for
(attaching a new partition, dropping a detached child partition: both lock prediction_requests).

The two databases are measured in alternation, one sample of each in turn, so that whatever else the
machine does at the time weighs on both alike and the ratio compares the databases, not the moments.
A p99 of a few hundred samples is the third-slowest of them, a few milliseconds that one hiccup moves
(ratios of the same code ranged 1.06-1.74 between runs), so each measurement runs in several rounds of
n samples per database, alternating: a p99 (and a p99 ratio) is the median of the rounds' p99s (ratios),
`partitions.ratio_rounds.*` lists every round's ratio (their spread is the figure's noise), and the p50s
are those of all samples."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg

from bench import workload
from listener.claims import claim_pending, pending_floor, record_outcomes
from listener.outcomes import BatchOutcome
from service.ids import new_request_id
from sql.named_queries import QUERIES
from sql.retention import run_retention

if TYPE_CHECKING:
    from bench.__main__ import Bench

FILL = (Path(__file__).parent / "fill_epoch.sql").read_text()
SIZES = {  # (partitions, requests per partition, hot-path samples per database and round, rounds)
    "smoke": (2, 10_000, 20, 3),
    "quick": (10, 1_000_000, 500, 5),
    "full": (10, 1_000_000, 2000, 5),
}
TARGETS = {
    "partitions.ratio.submit_to_result_p99": ("<=", 1.2),
    "partitions.ratio.claim_query_p99": ("<=", 1.2),
}
STEPS = ("claim_query", "result_insert", "get_prediction")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def fill(url: str, partitions: int, per_partition: int) -> None:
    """partitions x per_partition completed requests with results, epoch k holding day (partitions - k)
    before today; the last one is current."""
    with psycopg.connect(url, autocommit=True) as conn:
        first = conn.execute(QUERIES["current_epoch"]).fetchone()[0] + 1  # type: ignore[index]
        sql = (
            FILL
            if conn.info.server_version >= 180000
            else FILL.replace("uuidv7(t - now())", "gen_random_uuid()")
        )
        for k in range(partitions):
            conn.execute("SELECT ensure_request_partition(%s)", [first + k])
            conn.execute("SET session_replication_role = replica")
            conn.execute(
                sql, {"epoch": first + k, "n": per_partition, "days_ago": partitions - k, "span_days": 1}
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


def one_step_sample(
    conn: psycopg.Connection, client: httpx.Client, features: dict, from_id: int
) -> dict[str, float]:
    """With no listener running: insert a request, then time the claim query (from `from_id`, as a
    listener claims from the floor its last sweep read), the result insert and GET /predictions/{id}."""
    request_id = str(new_request_id())  # a UUIDv7, as the API makes them
    conn.execute(
        QUERIES["insert_prediction_request"],
        {
            "request_id": request_id,
            "model_name": "logistic",
            "features": json.dumps(features),
            "idempotency_key": None,
            "subject_ref": None,
            "api_key_id": None,
        },
    )
    out = {}
    start = time.perf_counter()
    [claim] = claim_pending(conn, "bench:partitions", 1, 30.0, from_id)
    out["claim_query"] = _ms(start)
    outcome = BatchOutcome()
    outcome.add_results([claim.id], [0], [0.1], "bench", "0" * 64)
    start = time.perf_counter()
    record_outcomes(conn, "bench:partitions", outcome)
    out["result_insert"] = _ms(start)
    start = time.perf_counter()
    assert client.get(f"/predictions/{request_id}").status_code == 200
    out["get_prediction"] = _ms(start)
    return out


def run(bench: Bench, mode: str) -> None:
    partitions, per_partition, n, rounds = SIZES[mode]
    total = partitions * per_partition
    label = f"rows_{total}"
    urls = {"empty": bench.stack.new_database(), label: bench.stack.new_database()}
    apis = {state: bench.api(url) for state, url in urls.items()}
    workload_log(f"partitions: filling {total:,} requests with results across {partitions} partitions")
    started = time.perf_counter()
    fill(urls[label], partitions, per_partition)
    bench.figures["partitions.fill_s"] = round(time.perf_counter() - started, 1)

    rows = workload.feature_rows()
    listeners = {state: bench.stack.start("listener", url) for state, url in urls.items()}
    for _, _, client in apis.values():
        bench.warm(client, rows)
    # samples[round][state][step]: one list of n per round, database and step
    samples: list[dict[str, dict[str, list[float]]]] = [
        {s: {k: [] for k in ("submit_to_result", *STEPS)} for s in urls} for _ in range(rounds)
    ]
    workload_log(f"partitions: submit-to-result, {rounds} rounds of {n} samples per database in alternation")
    for r in range(rounds):
        for i in range(n):
            for state in sorted(urls, reverse=i % 2 == 1):
                client = apis[state][2]
                samples[r][state]["submit_to_result"].append(
                    workload.submit_and_wait(client, "logistic", rows[i % len(rows)], 10)
                )
    for proc in listeners.values():
        bench.stack.stop(proc)
    workload_log(
        f"partitions: claim query, result insert, GET /predictions/{{id}}: {rounds} rounds of {n} each"
    )
    conns = {state: psycopg.connect(url, autocommit=True) for state, url in urls.items()}
    floors = {state: pending_floor(conn) for state, conn in conns.items()}
    try:
        for r in range(rounds):
            for i in range(n):
                for state in sorted(urls, reverse=i % 2 == 1):
                    sample = one_step_sample(conns[state], apis[state][2], rows[i % len(rows)], floors[state])
                    for step, ms in sample.items():
                        samples[r][state][step].append(ms)
    finally:
        for c in conns.values():
            c.close()
    bench.figures.update(summarize(samples, label))

    workload_log("partitions: retention of the oldest partition")
    report = run_retention(urls[label], older_than_days=partitions - 1.5, actor="bench")
    bench.figures["partitions.retention_one_partition"] = {
        "partitions": len(report.removed_epochs),
        "requests": report.rows.get("prediction_requests", 0),
        "seconds": round(report.seconds, 3),
        "longest_ddl_ms": round(report.longest_ddl_seconds * 1000, 1),
        "longest_blocking_ddl_ms": round(report.longest_blocking_seconds * 1000, 1),
    }
    for proc, _, _ in apis.values():
        bench.stack.stop(proc)


def summarize(samples: list[dict[str, dict[str, list[float]]]], label: str) -> dict[str, object]:
    """Per database and step: the percentiles of all samples, except p99_ms, the median of the rounds'
    p99s (p99_ms_all: that of all samples); the p99 ratio is the median of the rounds' ratios (each
    round's two databases measured in the same minutes), the p50 ratio that of all samples."""
    figures: dict[str, object] = {}
    per_round = {
        state: {step: [workload.percentiles(r[state][step]) for r in samples] for step in by_step}
        for state, by_step in samples[0].items()
    }
    for state, by_step in per_round.items():
        for step, stats in by_step.items():
            pooled = workload.percentiles([ms for r in samples for ms in r[state][step]])
            pooled["p99_ms_all"] = pooled["p99_ms"]
            pooled["p99_ms"] = round(statistics.median(p["p99_ms"] for p in stats), 3)
            figures[f"partitions.{state}.{step}"] = {**pooled, "rounds": len(samples)}
    for step in per_round["empty"]:
        ratios = [
            full["p99_ms"] / empty["p99_ms"]
            for full, empty in zip(per_round[label][step], per_round["empty"][step], strict=True)
        ]
        figures[f"partitions.ratio.{step}_p99"] = round(statistics.median(ratios), 2)
        figures[f"partitions.ratio_rounds.{step}_p99"] = [round(r, 2) for r in ratios]
        full, empty = (figures[f"partitions.{s}.{step}"] for s in (label, "empty"))
        figures[f"partitions.ratio.{step}_p50"] = round(full["p50_ms"] / empty["p50_ms"], 2)  # type: ignore[index]
    return figures


def workload_log(msg: str) -> None:
    from bench.__main__ import log

    log(msg)
