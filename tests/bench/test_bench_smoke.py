"""`make bench` runs end to end and writes its JSON (a tiny run; nothing here is timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack import ROOT

pytestmark = pytest.mark.slow


def test_bench_smoke_run_writes_every_scenario_to_its_json(trained_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ENV"}}
    env |= {"BENCH_SMOKE": "1", "BENCH_RESULTS": str(out), "MODEL_STORE_DIR": str(trained_store)}
    run = subprocess.run(
        [sys.executable, "-m", "bench"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "smoke"
    assert report["machine"]["cores"] >= 1 and report["machine"]["postgresql"]
    figures = report["figures"]
    for key in (
        "inference.logistic",
        "latency.notify.logistic",
        "latency.notify.random_forest_e04",
        "throughput.logistic.listeners_1",
        "throughput.shadows_0.random_forest_e04",
        "throughput.shadows_1.random_forest_e04",
        "throughput.one_shadow_cost_pct",
        "api.submissions_per_s",
        "memory.listener_rss_mb",
        "scale.p99_ratio_1m_over_empty",
    ):
        assert key in figures, key
    assert set(report["targets"]) >= {"latency.notify.logistic.p50_ms", "api.submissions_per_s"}
    assert "target" in run.stdout
