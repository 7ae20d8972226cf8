"""The drain rate the database allows: the listener's own statements on a backlog, with no model.

A backlog of n real employee rows is stored as the API's keyless batch stores it: one binary COPY per
1,000 rows, each its own commit (`copy_prediction_batch` with the API's own `copy_rows` and UUIDv7
ids), before the drain starts. A raw psycopg client then drains it with exactly the statements a
listener runs on a backlog in lease mode, loaded as the listener loads them (listener/claims.py over
sql/queries/listener.sql, by name): `pending_floor` once, `claim_pending` of the listener's default batch
size (its features decoded by orjson, as the listener does), and `record_outcomes` with fixed precomputed
predictions (one model version, the registered logistic one). No model, no Python work but psycopg's
and building the outcome arrays. `serial`: each batch recorded before the next is claimed;
`overlapped`: the listener's default pipeline, its BackgroundRecorder writing batch N on its own
connection while batch N+1 is claimed. Left out, as being no part of our statements: the listener's
first short-transaction claim (the floor claims in lease mode from the first batch), heartbeats and
sweeps, and the LISTENing backends of the API and the listener (nobody LISTENs here).

The rate is the same as the listeners' saturation figure (workload.drain_rate: rows completed per second
from the first claim to the last completion, the rows' own timestamps), so
`throughput.<model>.listeners_1_over_floor` compares like with like. At the end every row must be
completed with exactly one result, or the bench fails.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil
import psycopg
from psycopg.types.json import set_json_loads

from bench import workload
from listener.claims import claim_pending, limit_idle_transactions, pending_floor, record_outcomes
from listener.config import ListenerSettings
from listener.connection import connect
from listener.outcomes import BatchOutcome, Claim
from listener.recorder import BackgroundRecorder
from service.ids import new_request_ids
from service.repository.requests import copy_rows
from sql import json_codec
from sql.named_queries import QUERIES

LISTENER_ID = "bench-floor:1"
CHUNK = 1000  # the API's batch chunk (service/repository/requests.py submit_batch)
MODES = ("serial", "overlapped")


def store_backlog(url: str, rows: list[dict[str, Any]], n: int, model: str = "logistic") -> None:
    """n pending requests, as the API's keyless batch stores them: a binary COPY and a commit per chunk."""
    with psycopg.connect(url, autocommit=True) as conn:
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            items = [rows[(start + i) % len(rows)] for i in range(size)]
            with conn.cursor() as cur, cur.copy(QUERIES["copy_prediction_batch"]) as copy:
                copy.write(copy_rows(new_request_ids(size), model, items, None, None))


def _version(conn: psycopg.Connection, model: str) -> tuple[str, str]:
    row = conn.execute(
        "SELECT version, sha256 FROM model_versions WHERE model_name = %s ORDER BY id DESC LIMIT 1", (model,)
    ).fetchone()
    return (row[0], row[1]) if row else ("floor", "0" * 64)


def _outcome(claims: list[Claim], version: tuple[str, str]) -> BatchOutcome:
    outcome = BatchOutcome()
    ids = [c.id for c in claims]
    # Fixed answers, alternating classes: the arrays the listener sends, without a model to make them.
    outcome.add_results(ids, [i & 1 for i in ids], [0.25 + 0.5 * (i & 1) for i in ids], *version)
    return outcome


def drain(url: str, mode: str, batch_size: int, lease_seconds: float) -> int:
    """Claim and record until a claim comes back short of the batch size; returns the rows recorded."""
    work = connect(url, f"listener {LISTENER_ID}")
    set_json_loads(json_codec.loads, work)  # the listener's jsonb decoding (use_fast_json), this connection
    limit_idle_transactions(work, lease_seconds)
    recorder = BackgroundRecorder(url, LISTENER_ID, 1) if mode == "overlapped" else None
    recorded = 0
    try:
        version = _version(work, "logistic")
        from_id = pending_floor(work)
        while True:
            claims = claim_pending(work, LISTENER_ID, batch_size, lease_seconds, from_id)
            outcome = _outcome(claims, version) if claims else None
            if recorder is not None:
                taken = recorder.take()  # the previous batch's write ran while this one was claimed
                if taken is not None:
                    if taken.error is not None:
                        raise taken.error
                    assert taken.recorded is not None
                    recorded += taken.recorded.completed
                if outcome is not None and len(claims) >= batch_size:
                    recorder.submit(claims, outcome)
                    continue
            if outcome is not None:
                recorded += record_outcomes(work, LISTENER_ID, outcome).completed
            if len(claims) < batch_size:
                return recorded
    finally:
        if recorder is not None:
            recorder.close()
        work.close()


def check_one_result_each(url: str, n: int) -> None:
    """Every request completed, with exactly one result each: the bench fails loudly otherwise."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE r.status = 'completed'),"
            " count(*) FILTER (WHERE (SELECT count(*) FROM prediction_results p"
            "                         WHERE p.request_id = r.id) = 1),"
            " (SELECT count(*) FROM prediction_results)"
            " FROM prediction_requests r"
        ).fetchone()
    assert row is not None
    total, completed, answered_once, results = row
    if not total == completed == answered_once == results == n:
        raise RuntimeError(
            f"throughput floor: {n} rows stored, {total} requests, {completed} completed, "
            f"{answered_once} with exactly one result, {results} results"
        )


def measure(stack: Any, rows: list[dict[str, Any]], n: int, mode: str) -> dict[str, Any]:
    """One floor run on a fresh database: its drain rate, and CPU per 1,000 rows of PostgreSQL (all its
    processes) and of this client (psycopg and the outcome arrays: what the listener's Python adds
    beyond the model is at least this)."""
    url = stack.new_database()
    store_backlog(url, rows, n)
    settings = ListenerSettings()
    me = psutil.Process()
    before = {**stack.cpu(), "client": sum(me.cpu_times()[:2])}
    started = time.perf_counter()
    recorded = drain(url, mode, settings.batch_size, settings.lease_seconds)
    wall = time.perf_counter() - started
    after = {**stack.cpu(), "client": sum(me.cpu_times()[:2])}
    check_one_result_each(url, n)
    if recorded != n:
        raise RuntimeError(f"throughput floor ({mode}): {recorded} of {n} rows recorded by the drain")
    return {
        "rows_per_s": round(workload.drain_rate(url)),
        "wall_rows_per_s": round(n / wall),
        "cpu_ms_per_1000_rows": {k: round((after[k] - before[k]) * 1e6 / n, 1) for k in after},
        "load_1m": round(os.getloadavg()[0], 2),
    }
