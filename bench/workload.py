"""Realistic feature rows (the attrition data itself) and the HTTP calls the scenarios make."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx
import psycopg


def feature_rows() -> list[dict[str, Any]]:
    """Every employee of the training data, as JSON-ready feature dicts."""
    from model_store.data import load_attrition

    frame = load_attrition().X
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    qs = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {
        "n": len(samples_ms),
        "p50_ms": round(statistics.median(samples_ms), 3),
        "p95_ms": round(qs[94], 3),
        "p99_ms": round(qs[98], 3),
    }


def submit_and_wait(client: httpx.Client, model: str, features: dict, wait: float) -> float:
    """One request with ?wait; returns the submit-to-result time in ms (the client's clock)."""
    start = time.perf_counter()
    r = client.post(
        "/predictions/request", params={"wait": wait}, json={"model_name": model, "features": features}
    )
    elapsed = (time.perf_counter() - start) * 1000
    if r.status_code != 200 or r.json().get("status") != "completed":
        raise RuntimeError(f"request did not complete within {wait}s: {r.status_code} {r.text[:200]}")
    return elapsed


def sequential_latency(client: httpx.Client, model: str, rows: list[dict], n: int) -> list[float]:
    return [submit_and_wait(client, model, rows[i % len(rows)], 10) for i in range(n)]


async def spread_latency(
    base_url: str, headers: dict, model: str, rows: list[dict], n: int, window_s: float
) -> list[float]:
    """n requests at random moments over window_s, each waiting for its result (polling listeners)."""
    rng = random.Random(7)

    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:

        async def one(i: int) -> float:
            await asyncio.sleep(rng.uniform(0, window_s))
            start = time.perf_counter()
            r = await client.post(
                "/predictions/request",
                params={"wait": 30},
                json={"model_name": model, "features": rows[i % len(rows)]},
            )
            if r.status_code != 200:
                raise RuntimeError(f"no result in 30 s: {r.status_code}")
            return (time.perf_counter() - start) * 1000

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def submit_batches(client: httpx.Client, model: str, rows: list[dict], total: int, chunk: int) -> int:
    sent = 0
    while sent < total:
        size = min(chunk, total - sent)
        items = [rows[(sent + i) % len(rows)] for i in range(size)]
        r = client.post("/predictions/batch", json={"model_name": model, "items": items}, timeout=120)
        r.raise_for_status()
        sent += size
    return sent


def wait_until_done(db_url: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed')) FROM prediction_requests"
            ).fetchone()
            if row and row[0] >= expected:
                return
            time.sleep(0.02)
    raise TimeoutError(f"{expected} requests not done within {timeout}s")


def wait_until_idle(db_url: str, timeout: float) -> None:
    """Until no request is pending or running (the listener has drained what earlier scenarios left)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM prediction_requests WHERE status IN ('pending', 'running')"
            ).fetchone()
            if row and row[0] == 0:
                return
            time.sleep(0.02)
    raise TimeoutError(f"requests still open after {timeout}s")


def batch_end_to_end(client: httpx.Client, db_url: str, model: str, rows: list[dict], n: int) -> float:
    """Predictions per second of one n-row POST /predictions/batch, from the start of the call to the
    commit of its last result (the listener running), as the caller who submitted it sees it."""
    items = [rows[i % len(rows)] for i in range(n)]
    body = json.dumps({"model_name": model, "items": items}).encode()
    headers = {"Content-Type": "application/json"}
    with psycopg.connect(db_url, autocommit=True) as conn:
        started = time.time()  # the database's clock_timestamp() is this machine's clock too
        r = client.post("/predictions/batch", content=body, headers=headers, timeout=120)
        r.raise_for_status()
        ids = r.json()["request_ids"]
        # Nothing else is open (wait_until_idle before): done when no request is pending or running,
        # a cheap question (partial indexes) asked often without slowing the listener.
        deadline = time.monotonic() + 120
        while True:
            row = conn.execute(
                "SELECT count(*) FROM prediction_requests WHERE status IN ('pending', 'running')"
            ).fetchone()
            if row and row[0] == 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{row and row[0]} of {n} batch requests still open after 120 s")
            time.sleep(0.01)
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'completed'),"
            " extract(epoch FROM max(completed_at))::float8"
            " FROM prediction_requests WHERE request_id = ANY(%s::uuid[])",
            (ids,),
        ).fetchone()
        assert row is not None
        if row[0] != n:
            raise RuntimeError(f"only {row[0]} of {n} batch requests completed")
    return n / (row[1] - started)


def wait_until_shadowed(db_url: str, expected: int, timeout: float) -> None:
    """Until `expected` shadow answers are written (they follow the answers' commit)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM shadow_predictions").fetchone()
            if row and row[0] >= expected:
                return
            time.sleep(0.02)
    raise TimeoutError(f"{expected} shadow answers not written within {timeout}s")


def drain_rate(db_url: str) -> float:
    """Requests completed per second, from the first claim to the last completion (or the last shadow
    answer, when challengers run in the shadow)."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) / extract(epoch FROM greatest(max(completed_at),"
            " (SELECT max(created_at) FROM shadow_predictions)) - min(claimed_at))"
            " FROM prediction_requests WHERE status = 'completed'"
        ).fetchone()
    return float(row[0]) if row and row[0] else 0.0


async def api_submissions(
    base_url: str, headers: dict, rows: list[dict], seconds: float, concurrency: int
) -> float:
    """Single-request submissions per second (no wait) from `concurrency` keep-alive connections.

    A bare asyncio HTTP/1.1 client: httpx costs more CPU per request than the API itself, and on a
    2-core machine the load generator would otherwise measure mostly itself.
    """
    host, port = base_url.removeprefix("http://").split(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower().startswith("x-"))
    bodies = [json.dumps({"model_name": "logistic", "features": row}).encode() for row in rows[:256]]
    requests = [
        (
            f"POST /predictions/request HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in bodies
    ]
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        i = k
        while time.perf_counter() < stop_at:
            writer.write(requests[i % len(requests)])
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if b" 202 " not in status:
                raise RuntimeError(f"submit refused: {status!r}")
            done += 1
            i += concurrency
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done / (time.perf_counter() - start)
