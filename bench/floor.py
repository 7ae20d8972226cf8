"""The floor the database allows for one submit-and-wait, measured with a raw client beside the API.

A client inserts a request row (a real employee's features) and commits, with a NOTIFY in the same
statement; a second connection, LISTENing, inserts and commits a result with a NOTIFY back; the client
returns when that notification arrives. No Python between the steps but psycopg's own: the least a
durable insert, a wake-up, a durable result and a wake-up back cost on this server. The HTTP part of the
floor (one round trip to a route that does nothing) is measured with wrk against the same API.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg

SQL = (Path(__file__).parent / "floor.sql").read_text()
SUBMIT = (
    "WITH r AS (INSERT INTO bench_floor_requests (features) VALUES (%s) RETURNING id) "
    "SELECT pg_notify('bench_floor_requested', id::text) FROM r"
)
ANSWER = (
    "WITH r AS (INSERT INTO bench_floor_results (request_id, probability) VALUES (%s, 0.5) "
    "RETURNING request_id) SELECT pg_notify('bench_floor_completed', request_id::text) FROM r"
)


def _responder(url: str, ready: threading.Event, stop: threading.Event) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("LISTEN bench_floor_requested")
        ready.set()
        while not stop.is_set():
            # Collected first: psycopg holds the connection while notifies() waits.
            for payload in [note.payload for note in conn.notifies(timeout=0.2, stop_after=1)]:
                conn.execute(ANSWER, (int(payload),))


def round_trips(url: str, rows: list[dict], n: int) -> list[float]:
    """n sequential insert → NOTIFY → result insert → NOTIFY back chains, in ms."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SQL)
    ready, stop = threading.Event(), threading.Event()
    responder = threading.Thread(target=_responder, args=(url, ready, stop), daemon=True)
    responder.start()
    ready.wait(10)
    bodies = [json.dumps(row) for row in rows]
    samples = []
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("LISTEN bench_floor_completed")
            for i in range(n + 20):  # the first 20 warm the caches and are not kept
                start = time.perf_counter()
                conn.execute(SUBMIT, (bodies[i % len(bodies)],))
                got = None
                while got is None:
                    for note in conn.notifies(timeout=5, stop_after=1):
                        got = note.payload
                    if got is None:
                        raise TimeoutError("the floor's answer did not come back within 5 s")
                if i >= 20:
                    samples.append((time.perf_counter() - start) * 1000)
    finally:
        stop.set()
        responder.join(5)
    return samples
