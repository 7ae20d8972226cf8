"""Training: repeated CV figures with intervals for every candidate, artifacts that match the manifest,
and a retraining that reproduces both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import sklearn

from model_store.crossval import OUTER_FOLDS
from model_store.evaluation import METRICS
from model_store.features import schema_as_json
from model_store.manifest import artifacts_present, sha256_hex
from model_store.pipelines import CANDIDATE_NAMES, DEFAULT_MODEL, MODEL_NAMES
from model_store.training import TRAINING_LIBRARIES, Split, library_versions, train


def test_every_candidate_has_repeated_cv_figures_with_intervals(manifest: dict[str, Any]) -> None:
    protocol = manifest["protocol"]
    assert protocol["outer_folds"] >= 5 and protocol["repeats"] >= 10
    assert protocol["folds"] == protocol["outer_folds"] * protocol["repeats"]
    assert list(manifest["candidates"]) == list(CANDIDATE_NAMES)
    for name, c in manifest["candidates"].items():
        assert set(c["cv"]) == set(METRICS), name
        for metric, s in c["cv"].items():
            assert s["low"] < s["mean"] < s["high"] or s["std"] == 0, (name, metric)
            assert len(c["per_fold"][metric]) == protocol["folds"]
            assert np.isclose(np.mean(c["per_fold"][metric]), s["mean"])
        assert c["served"] == (name in MODEL_NAMES)


def test_models_beat_the_dummy_and_the_intervals_are_honest(manifest: dict[str, Any]) -> None:
    cv = {n: c["cv"] for n, c in manifest["candidates"].items()}
    assert cv["dummy"]["roc_auc"]["mean"] == 0.5
    for name in ("logistic", "random_forest", DEFAULT_MODEL):
        assert cv[name]["roc_auc"]["low"] > 0.75, name  # far above chance
        assert cv[name]["pr_auc"]["mean"] > cv["dummy"]["pr_auc"]["mean"] + 0.3
        assert cv[name]["f1"]["mean"] > 0.4
    # The corrected interval is wider than the naive sd/√J one, narrower than ± 2 sd.
    s, j = cv[DEFAULT_MODEL]["roc_auc"], manifest["protocol"]["folds"]
    half = s["high"] - s["mean"]
    assert 2 * s["std"] / np.sqrt(j) < half < 2 * s["std"]


def test_manifest_records_everything_per_model(manifest: dict[str, Any], trained_store: Path) -> None:
    assert list(manifest["models"]) == list(MODEL_NAMES)
    assert manifest["default_model"] == DEFAULT_MODEL
    for name, entry in manifest["models"].items():
        assert entry["name"] == name
        assert entry["sha256"] == sha256_hex((trained_store / entry["file"]).read_bytes())
        assert entry["version"] == entry["sha256"][:12]
        assert entry["sklearn_version"] == sklearn.__version__
        assert entry["training_data_sha256"] == manifest["data"]["sha256"]
        assert entry["trained_at"] and 0 < entry["threshold"] < 1
        assert entry["feature_schema"] == schema_as_json()
        assert entry["metrics"]["cv"] == manifest["candidates"][name]["cv"]
        assert set(entry["metrics"]["test"]) == set(entry["metrics"]["test_se"]) == set(METRICS)
    assert manifest["data"]["rows"] == 1470 and manifest["data"]["positives"] == 237
    assert manifest["library_versions"] == library_versions()
    assert set(manifest["library_versions"]) == set(TRAINING_LIBRARIES)
    assert artifacts_present(trained_store)


def test_thresholds_follow_the_f1_rule_except_the_dummy(manifest: dict[str, Any]) -> None:
    thresholds = {n: e["threshold"] for n, e in manifest["models"].items()}
    assert thresholds["dummy"] == 0.5
    for name in ("logistic", "random_forest", DEFAULT_MODEL):
        assert "F1" in manifest["models"][name]["threshold_rule"]
        per_fold = manifest["candidates"][name]["threshold_per_fold"]
        assert per_fold["min"] < per_fold["max"]  # chosen again inside every fold


def test_the_hold_out_check_agrees_with_cross_validation(manifest: dict[str, Any]) -> None:
    holdout = manifest["holdout"]
    assert holdout["test_rows"] == 294 and holdout["test_positives"] == 47
    for name in MODEL_NAMES[1:]:
        c = manifest["candidates"][name]
        score, se = c["holdout"]["scores"]["roc_auc"], c["holdout"]["se"]["roc_auc"]
        assert 0.02 < se < 0.06  # one 294-row split cannot resolve less
        assert abs(score - c["cv"]["roc_auc"]["mean"]) < 3 * se, name


@pytest.mark.timeout(900)  # a training: minutes on a busy 2-core machine
def test_training_again_gives_identical_cv_figures_artifacts_and_predictions(
    trained_store: Path, manifest: dict[str, Any], split: Split, tmp_path: Path
) -> None:
    # One repeat: the same first five folds as the full run (one seed), and the served models are fitted
    # on all rows whatever the number of repeats.
    again = train(tmp_path, progress=False, repeats=1)
    for name, c in again["candidates"].items():
        for metric, values in c["per_fold"].items():
            assert values == manifest["candidates"][name]["per_fold"][metric][:OUTER_FOLDS], (name, metric)
    for name, entry in manifest["models"].items():
        first = joblib.load(trained_store / entry["file"])
        second = joblib.load(tmp_path / again["models"][name]["file"])
        np.testing.assert_array_equal(first.predict_proba(split.X_test), second.predict_proba(split.X_test))
        # Not the sha256: a pickle's bytes can differ between processes (which equal strings are one
        # object decides pickle's memo) while the model is the same; what it answers is compared instead.
        assert again["models"][name]["threshold"] == entry["threshold"]
        assert again["models"][name]["params"] == entry["params"]
