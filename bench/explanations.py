"""What explanations cost: one explanation per model, single and in batches of 256, beside the
prediction itself; and the listener's throughput with explain-at-answer on and off, from one run.

Figures (in bench/results.json):
- explain.<model>: single_row_ms, batch_256_ms_per_row, and ratio_to_inference (explaining one row over
  predicting one row, both through what the listener runs);
- throughput.explain_at_answer.<model>.off / .on: rows answered per second by one listener, the second
  with LISTENER_EXPLAIN_AT_ANSWER=<model> (every answer explained and stored), .ratio_on_over_off, and
  .rows drained (fewer for the forest, whose exact explanations cost milliseconds per row).
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

MODELS = ("dummy", "logistic", "random_forest", "random_forest_e04")
# The cheap model the setting is meant for, and a forest to show why it is not meant for forests: an exact
# TreeSHAP costs milliseconds per row, so the forest drains a twentieth of the rows (at least 50).
AT_ANSWER_MODELS = {"logistic": 1, "random_forest_e04": 20}


def median_ms(call: Callable[[], Any], repeat: int, warm: int = 5) -> float:
    """Median wall time of one call in milliseconds, after a short warm-up."""
    for _ in range(min(warm, repeat)):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def explanation_costs(
    url: str, store_dir: Path, rows: Sequence[dict[str, Any]], repeat: int, batch: int = 256
) -> dict[str, Any]:
    """Per model: one explanation (single row, and per row in batches of 256) through the listener's own
    loading path (the version deployed, hash-checked), and its ratio to one prediction."""
    from model_store.explain_loading import ExplainerCache
    from model_store.registry import open_registry

    registry = open_registry(url)
    cache = ExplainerCache(store_dir)
    figures: dict[str, Any] = {}
    with psycopg.connect(url) as conn:
        for model in MODELS:
            handle = registry.get(model)
            explainer = cache.get(conn, handle.name, handle.version, handle.sha256)
            figures[f"explain.{model}"] = cost_of(explainer, handle, rows, repeat, batch)
    return figures


def cost_of(
    explainer: Any, handle: Any, rows: Sequence[dict[str, Any]], repeat: int, batch: int
) -> dict[str, float]:
    """Median single-row explanation, per-row cost in batches, and single explain over predict."""
    cycle = itertools.cycle(rows)
    many = list(itertools.islice(itertools.cycle(rows), batch))
    single = median_ms(lambda: explainer.explain([next(cycle)]), repeat)
    per_row = median_ms(lambda: explainer.explain(many), max(1, repeat // 50), warm=0) / batch
    predict = median_ms(lambda: handle.predict([next(cycle)]), repeat)
    return {
        "single_row_ms": round(single, 4),
        f"batch_{batch}_ms_per_row": round(per_row, 4),
        "ratio_to_inference": round(single / predict, 1),
    }


def drain_rate_with_explanations(db_url: str) -> tuple[float, int]:
    """(rows per second from the first claim to the last answer or explanation written, explanations)."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), (SELECT count(*) FROM prediction_explanations),"
            " extract(epoch FROM greatest(max(r.completed_at),"
            "   (SELECT max(created_at) FROM prediction_explanations)) - min(r.claimed_at))"
            " FROM prediction_requests AS r WHERE r.status = 'completed'"
        ).fetchone()
    assert row is not None
    completed, explained, seconds = row
    return (completed / float(seconds) if seconds else 0.0), explained


def wait_for_explanations(db_url: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM prediction_explanations").fetchone()
            if row and row[0] >= expected:
                return
            time.sleep(0.05)
    raise TimeoutError(f"{expected} explanations not written within {timeout}s")


def insert_backlog(url: str, model: str, rows: Sequence[dict[str, Any]], n: int) -> None:
    """n pending requests straight in SQL (how they arrive does not matter to a drain rate)."""
    backlog = list(itertools.islice(itertools.cycle(rows), n))
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO prediction_requests (model_name, features)"
            " SELECT %s, f FROM jsonb_array_elements(%s::jsonb) AS f",
            [model, json.dumps(backlog)],
        )


def at_answer_throughput(bench: Any, rows: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """One listener drains the same rows of each model twice, explain-at-answer off then on (a fresh
    database each time, the whole backlog there before it starts); the cost is the ratio of the rates."""
    from bench import workload

    figures: dict[str, Any] = {}
    for model, fraction in AT_ANSWER_MODELS.items():
        n_model = max(50, n // fraction)
        rates = {}
        for setting, env in (("off", {}), ("on", {"LISTENER_EXPLAIN_AT_ANSWER": model})):
            url = bench.stack.new_database()
            insert_backlog(url, model, rows, n_model)
            listener = bench.stack.start("listener", url, env=env)
            workload.wait_until_done(url, n_model, timeout=900)
            if setting == "on":
                wait_for_explanations(url, n_model, timeout=900)
            rate, explained = drain_rate_with_explanations(url)
            bench.stack.stop(listener)
            if explained != (n_model if setting == "on" else 0):
                raise RuntimeError(f"{model}, explain-at-answer {setting}: {explained}/{n_model} explained")
            rates[setting] = rate
            figures[f"throughput.explain_at_answer.{model}.{setting}"] = round(rate)
        figures[f"throughput.explain_at_answer.{model}.rows"] = n_model
        ratio = rates["on"] / rates["off"]
        figures[f"throughput.explain_at_answer.{model}.ratio_on_over_off"] = float(f"{ratio:.3g}")
    return figures
