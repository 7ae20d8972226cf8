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


@pytest.mark.timeout(1500)  # training the models, then every scenario, each on a fresh database
def test_bench_smoke_run_writes_every_scenario_to_its_json(trained_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ENV"}}
    env |= {"BENCH_SMOKE": "1", "BENCH_RESULTS": str(out), "MODEL_STORE_DIR": str(trained_store)}
    run = subprocess.run(
        [sys.executable, "-m", "bench"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=850
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
        "throughput.floor.rows_per_s",
        "throughput.floor.overlapped.rows_per_s",
        "throughput.floor.cpu_ms_per_1000_rows",
        "throughput.floor.overlapped.cpu_ms_per_1000_rows",
        "throughput.logistic.listeners_1_over_floor",
        "throughput.random_forest_e04.listeners_1_over_floor",
        "throughput.shadows_0.random_forest_e04",
        "throughput.shadows_1.random_forest_e04",
        "throughput.one_shadow_cost_pct",
        "api.submissions_per_s",
        "memory.listener_rss_mb",
        "scale.p99_ratio_1m_over_empty",
        "user.floor.p50_ms",
        "user.wrk.submit_wait.logistic.c1",
        "user.wrk.submit_wait.logistic.c16",
        "user.wrk.submit_only.logistic.c16",
        "user.submit_wait_p50_over_floor.logistic",
        "user.batch_2000_per_s.random_forest_e04",
    ):
        assert key in figures, key
    # What one explanation costs per model, and the listener with explain-at-answer on/off
    # (the run itself fails unless every answer of the "on" run was explained).
    for model in ("dummy", "logistic", "random_forest", "random_forest_e04"):
        cost = figures[f"explain.{model}"]
        assert set(cost) == {"single_row_ms", "batch_16_ms_per_row", "ratio_to_inference"}  # smoke: 16
    for model in ("logistic", "random_forest_e04"):
        assert figures[f"throughput.explain_at_answer.{model}.off"] > 0
        assert figures[f"throughput.explain_at_answer.{model}.on"] > 0
        assert figures[f"throughput.explain_at_answer.{model}.ratio_on_over_off"] > 0
    # The floor the database allows (the listener's SQL, no model), beside the listeners' saturation:
    # the run itself fails unless its drain left every row completed with exactly one result.
    for key in ("throughput.floor", "throughput.floor.overlapped"):
        assert figures[f"{key}.rows_per_s"] > 0
        assert figures[f"{key}.cpu_ms_per_1000_rows"]["postgres"] > 0
        assert len(figures[f"{key}.runs"]["rows_per_s"]) == 1  # smoke: one round
    assert figures["throughput.logistic.listeners_1_over_floor"] > 0
    assert set(report["targets"]) >= {"latency.notify.logistic.p50_ms", "api.submissions_per_s"}
    # Every user-side figure beside its target, as a ratio.
    checks = report["targets"]
    assert checks["user.submit_wait_p50_over_floor.logistic"]["target"] == "<= 2"
    assert checks["user.wrk.submit_wait.logistic.c16.per_s"]["ratio"] is not None
    assert figures["user.floor.p50_ms"] > 0
    assert figures["user.wrk.submit_wait.logistic.c1"]["requests"] > 0
    # The single-connection figures are medians of rounds alternated with the floor's; every round listed.
    assert figures["user.wrk.submit_wait.logistic.c1"]["rounds"] == 2  # smoke: 2 rounds
    assert figures["user.wrk.submit_wait.logistic.c1"]["p99_ms_all"] > 0  # from wrk's histograms
    assert len(figures["user.rounds.submit_wait_p99_over_floor.logistic"]) == 2
    assert len(figures["user.rounds.floor"]["p99_ms"]) == 2
    assert figures["user.floor.p99_ms"] >= figures["user.floor.p50_ms"]
    assert "user.submit_wait_p99_over_floor_p99.logistic" in figures
    assert "target" in run.stdout


def test_bench_without_wrk_says_how_to_install_it(tmp_path: Path) -> None:
    # A PATH with this Python only: no wrk, no apt-get to install it with.
    (tmp_path / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ENV"}}
    env |= {"PATH": str(tmp_path), "BENCH_SMOKE": "1", "BENCH_RESULTS": str(tmp_path / "r.json")}
    run = subprocess.run(
        [sys.executable, "-m", "bench"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2
    assert "apt-get install -y wrk" in run.stderr
    assert not (tmp_path / "r.json").exists()
