"""Inference cost per model through the registry: single row and 256-row batches, against plain scikit-learn.

    python -m model_store.bench_inference [--database-url URL] [--repeat N]

Uses DATABASE_URL (or a throwaway embedded PostgreSQL when unset) and the trained store. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib

from model_store.data import load_attrition
from model_store.loading import force_single_thread
from model_store.manifest import read_manifest
from model_store.predictors import PipelinePredictor
from model_store.registration import register_manifest
from model_store.registry import ModelRegistry
from model_store.training import split_data
from sql.settings import get_settings

BATCH = 256


def per_call_ms(call: Callable[[], Any], repeat: int) -> float:
    """Median wall time of one call, in milliseconds, after a short warm-up."""
    for _ in range(min(20, repeat)):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


@contextmanager
def database(url: str | None, store_dir: Path) -> Iterator[str]:
    """DATABASE_URL with the store registered, or a throwaway embedded cluster when there is none."""
    if url:
        register_manifest(url, store_dir)
        yield url
        return
    from sql.embedded import EmbeddedPostgres
    from sql.migrate import migrate

    with tempfile.TemporaryDirectory(prefix="futurisys-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "data")
        try:
            migrate(server.url())
            register_manifest(server.url(), store_dir)
            yield server.url()
        finally:
            server.stop()


def bench(conninfo: str, store_dir: Path, repeat: int) -> list[dict[str, Any]]:
    """Per model: load time, then single-row and batch cost through the registry and in plain scikit-learn."""
    data = load_attrition()
    split = split_data(data)
    rows = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in split.X_test.to_dict("records")
    ]
    batch = (rows * (BATCH // len(rows) + 1))[:BATCH]
    registry = ModelRegistry(conninfo, store_dir)
    manifest = read_manifest(store_dir)
    results = []
    for name in registry.names():
        started = time.perf_counter()
        handle = registry.get(name)
        load_s = time.perf_counter() - started
        pipeline = joblib.load(store_dir / manifest["models"][name]["file"])
        force_single_thread(pipeline)
        naive = PipelinePredictor(pipeline)
        results.append(
            {
                "model": name,
                "predictor": type(handle.predictor).__name__,
                "load_s": load_s,
                "single_ms": per_call_ms(lambda h=handle: h.predict(rows[:1]), repeat),
                "batch_ms_per_row": per_call_ms(lambda h=handle: h.predict(batch), max(repeat // 20, 5))
                / BATCH,
                "sklearn_single_ms": per_call_ms(lambda p=naive: p.proba(rows[:1]), max(repeat // 50, 10)),
                "sklearn_batch_ms_per_row": per_call_ms(lambda p=naive: p.proba(batch), max(repeat // 100, 5))
                / BATCH,
            }
        )
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        "| model | fast path | load s | single ms | batch ms/row | sklearn single ms | sklearn batch ms/row |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['model']} | {r['predictor']} | {r['load_s']:.2f} | {r['single_ms']:.4f} | "
            f"{r['batch_ms_per_row']:.4f} | {r['sklearn_single_ms']:.2f} | "
            f"{r['sklearn_batch_ms_per_row']:.4f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=2000, help="single-row calls per model")
    args = parser.parse_args(argv)
    settings = get_settings()
    store_dir = settings.model_store_dir
    if not (store_dir / "manifest.json").is_file():
        print(f"no trained models in {store_dir}: run `python -m model_store` first", file=sys.stderr)
        return 1
    with database(args.database_url or settings.database_url, store_dir) as url:
        print_table(bench(url, store_dir, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
