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


@pytest.mark.timeout(900)  # training the models, then every scenario; the run itself is given 600 s
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
    # Issue 15: what one explanation costs per model, and the listener with explain-at-answer on/off
    # (the run itself fails unless every answer of the "on" run was explained).
    for model in ("dummy", "logistic", "random_forest", "random_forest_e04"):
        cost = figures[f"explain.{model}"]
        assert set(cost) == {"single_row_ms", "batch_16_ms_per_row", "ratio_to_inference"}  # smoke: 16
    for model in ("logistic", "random_forest_e04"):
        assert figures[f"throughput.explain_at_answer.{model}.off"] > 0
        assert figures[f"throughput.explain_at_answer.{model}.on"] > 0
        assert figures[f"throughput.explain_at_answer.{model}.ratio_on_over_off"] > 0
    assert set(report["targets"]) >= {"latency.notify.logistic.p50_ms", "api.submissions_per_s"}
    assert "target" in run.stdout
