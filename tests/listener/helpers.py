"""Submitting requests and watching them, straight in SQL, as the API and a DBA would."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg

from model_store.features import FEATURES


def valid_features(seed: int = 0) -> dict[str, Any]:
    """A feature dict the schema accepts; `seed` varies it so rows are not all identical."""
    out: dict[str, Any] = {}
    for i, f in enumerate(FEATURES):
        if f.type == "category":
            out[f.name] = f.categories[(seed + i) % len(f.categories)]
        else:
            lo, hi = int(f.minimum or 0), int(f.maximum or 0)
            out[f.name] = lo + (seed * 7 + i) % (hi - lo + 1)
    return out


def submit(
    conn: psycopg.Connection, n: int, model: str = "logistic", features: Mapping[str, Any] | None = None
) -> list[int]:
    """Insert n pending requests in ONE statement (one NOTIFY); returns their ids in order."""
    rows = conn.execute(
        "INSERT INTO prediction_requests (model_name, features)"
        " SELECT %s, %s::jsonb FROM generate_series(1, %s) RETURNING id",
        [model, json.dumps(dict(features or valid_features())), n],
    ).fetchall()
    return sorted(r[0] for r in rows)


def submit_rows(conn: psycopg.Connection, rows: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """One INSERT statement for all (model, features) rows; ids in the rows' order."""
    got = conn.execute(
        "INSERT INTO prediction_requests (model_name, features)"
        " SELECT m, f FROM unnest(%s::text[], %s::jsonb[]) WITH ORDINALITY AS t(m, f, n) ORDER BY n"
        " RETURNING id",
        [[m for m, _ in rows], [json.dumps(f) for _, f in rows]],
    ).fetchall()
    return [r[0] for r in got]


def submit_silently(conn: psycopg.Connection, n: int, model: str = "logistic") -> list[int]:
    """Insert n pending rows WITHOUT any NOTIFY (inserted as failed, then turned pending: neither statement
    notifies), like rows committed while a listener was not LISTENing. Only a claim that looks finds them."""
    with conn.transaction():
        rows = conn.execute(
            "INSERT INTO prediction_requests (model_name, features, status)"
            " SELECT %s, %s::jsonb, 'failed' FROM generate_series(1, %s) RETURNING id",
            [model, json.dumps(valid_features()), n],
        ).fetchall()
        ids = sorted(r[0] for r in rows)
        conn.execute("UPDATE prediction_requests SET status = 'pending' WHERE id = ANY(%s)", [ids])
    return ids


def status_counts(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT status, count(*) FROM prediction_requests GROUP BY status").fetchall())


def assert_stopped_mid_backlog(conn: psycopg.Connection, requests: int) -> dict[str, int]:
    """The `requests` are completed or pending, some of each, none left running; returns the counts."""
    counts = status_counts(conn)
    assert "running" not in counts and counts.get("pending", 0) > 0, counts
    assert counts["completed"] + counts["pending"] == requests, counts
    return counts


def statuses(conn: psycopg.Connection, ids: Sequence[int]) -> dict[int, str]:
    return dict(
        conn.execute("SELECT id, status FROM prediction_requests WHERE id = ANY(%s)", [list(ids)]).fetchall()
    )


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def all_done(conn: psycopg.Connection, ids: Sequence[int] | None = None) -> Callable[[], bool]:
    """A predicate: every request (or those of `ids`) is completed or failed."""

    def check() -> bool:
        if ids is None:
            row = conn.execute(
                "SELECT count(*) FROM prediction_requests WHERE status IN ('pending', 'running')"
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT count(*) FROM prediction_requests"
                " WHERE id = ANY(%s) AND status IN ('pending', 'running')",
                [list(ids)],
            ).fetchone()
        return row is not None and row[0] == 0

    return check


def assert_exactly_one_result_each(conn: psycopg.Connection, expected: int) -> None:
    """Every request completed, each with exactly one result row."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE r.status = 'completed'), count(*), count(res.id),"
        " count(DISTINCT res.request_id)"
        " FROM prediction_requests r LEFT JOIN prediction_results res ON res.request_id = r.id"
    ).fetchone()
    assert row == (expected, expected, expected, expected), row


class FakeHandle:
    """A model stand-in under the test's control: `poison` feature values make predict raise."""

    def __init__(self, name: str, version: str = "v-test", poison: str = "poison") -> None:
        self.name = name
        self.version = version
        self.sha256 = "ab" * 32
        self.threshold = 0.5
        self.poison = poison
        self.calls: list[int] = []

    def predict(self, features: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(len(features))
        if any(self.poison in f.values() for f in features):
            raise ValueError(f"cannot use value {self.poison!r}")
        probabilities = np.array([(f.get("age", 40) % 100) / 100 for f in features], dtype=float)
        return (probabilities >= self.threshold).astype(int), probabilities


class FakeRegistry:
    """The registry interface (get/refresh) over FakeHandles; unknown names raise like the real one."""

    def __init__(self, *names: str) -> None:
        self.handles = {name: FakeHandle(name) for name in names or ("logistic",)}
        self.refreshes = 0

    def names(self) -> list[str]:
        return sorted(self.handles)

    def get(self, name: str | None) -> FakeHandle:
        if name not in self.handles:
            raise LookupError(f"unknown model {name!r}; known: {', '.join(sorted(self.handles))}")
        return self.handles[name]

    def refresh(self) -> None:
        self.refreshes += 1

    def availability(self) -> list[Any]:
        return []

    def retry_due(self) -> list[str]:
        return []


@contextmanager
def running_in_thread(listener: Any) -> Iterator[Any]:
    """Run a Listener's loop in a thread for the block; stop it and check it ended cleanly."""
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            listener.run()
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name="listener-under-test", daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        listener.stop()
        thread.join(15)
        assert not thread.is_alive(), "listener thread did not stop within 15 s"
    if errors:
        raise errors[0]
