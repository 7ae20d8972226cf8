"""The promotion gate: Nadeau–Bengio corrected t-test on paired outer folds, and its verdicts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from model_store import gate, pipelines
from model_store.crossval import cross_validate, held_out_fraction, outer_folds
from model_store.data import TrainingData
from model_store.pipelines import DEFAULT_MODEL, RECIPES


def test_the_corrected_t_test_matches_its_formula() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.84, 0.03, 50), rng.normal(0.81, 0.03, 50)
    got = gate.corrected_t_test(a, b, test_fraction=0.2)
    d = a - b
    t = d.mean() / math.sqrt((1 / 50 + 0.2 / 0.8) * d.var(ddof=1))
    assert got["difference"] == pytest.approx(d.mean())
    assert got["t"] == pytest.approx(t)
    assert got["p"] == pytest.approx(2 * stats.t.sf(abs(t), 49))
    naive = d.mean() / math.sqrt(d.var(ddof=1) / 50)
    assert abs(got["t"]) < abs(naive) / 3  # the correction is what keeps overlapping folds honest


def test_the_gate_refuses_the_dummy_against_the_default(manifest: dict[str, Any]) -> None:
    verdict = manifest["gate"]["verdicts"]["dummy"]
    assert manifest["gate"]["incumbent"] == DEFAULT_MODEL
    assert verdict["better"] is False
    assert verdict["roc_auc"]["difference"] < -0.25 and verdict["roc_auc"]["p"] < 0.001
    assert any("PR-AUC falls" in r for r in verdict["reasons"])


def test_the_gate_refuses_a_refit_of_the_incumbent_itself(
    manifest: dict[str, Any], attrition: TrainingData, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default's recipe again on the same folds, its forests grown from another seed: only noise.
    folds = outer_folds(attrition.y, repeats=2)
    monkeypatch.setattr(pipelines, "SEED", 7)
    refit = cross_validate(
        [RECIPES[DEFAULT_MODEL]], attrition.X, attrition.y, folds, n_jobs=2, tick=lambda: None
    )
    incumbent = {m: v[: len(folds)] for m, v in manifest["candidates"][DEFAULT_MODEL]["per_fold"].items()}
    assert refit[DEFAULT_MODEL].per_fold["roc_auc"] != incumbent["roc_auc"]
    verdict = gate.verdict(refit[DEFAULT_MODEL].per_fold, incumbent, held_out_fraction(folds))
    assert verdict["better"] is False
    assert abs(verdict["roc_auc"]["difference"]) < 0.01
    assert verdict["roc_auc"]["p"] > 0.05


def test_the_gate_accepts_a_clearly_better_model(manifest: dict[str, Any]) -> None:
    incumbent = manifest["candidates"][DEFAULT_MODEL]["per_fold"]
    rng = np.random.default_rng(2)
    n = len(incumbent["roc_auc"])
    better = {
        "roc_auc": list(np.asarray(incumbent["roc_auc"]) + 0.04 + rng.normal(0, 0.01, n)),
        "pr_auc": list(np.asarray(incumbent["pr_auc"]) + 0.03),
        "brier": list(np.asarray(incumbent["brier"]) - 0.005),
    }
    verdict = gate.verdict(better, incumbent, manifest["protocol"]["test_fraction"])
    assert verdict["better"] is True and verdict["reasons"] == []
    assert verdict["roc_auc"]["p"] < 0.05


def test_each_condition_of_the_gate_can_refuse(manifest: dict[str, Any]) -> None:
    incumbent = {m: np.asarray(v) for m, v in manifest["candidates"][DEFAULT_MODEL]["per_fold"].items()}
    fraction = manifest["protocol"]["test_fraction"]
    base = {
        "roc_auc": incumbent["roc_auc"] + 0.04,
        "pr_auc": incumbent["pr_auc"],
        "brier": incumbent["brier"],
    }
    small = base | {"roc_auc": incumbent["roc_auc"] + 0.005}
    worse_pr = base | {"pr_auc": incumbent["pr_auc"] - 0.02}
    worse_brier = base | {"brier": incumbent["brier"] + 0.001}
    assert any("below 0.01" in r for r in gate.verdict(small, incumbent, fraction)["reasons"])
    assert any("PR-AUC falls" in r for r in gate.verdict(worse_pr, incumbent, fraction)["reasons"])
    assert any("Brier" in r for r in gate.verdict(worse_brier, incumbent, fraction)["reasons"])
