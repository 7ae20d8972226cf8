"""Training: the default model meets its bars, artifacts match the manifest, retraining is reproducible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from model_store.evaluation import METRICS
from model_store.features import schema_as_json
from model_store.manifest import artifacts_present, sha256_hex
from model_store.pipelines import DEFAULT_MODEL, MODEL_NAMES
from model_store.training import Split, train


def test_default_model_meets_the_acceptance_bars_and_beats_dummy(manifest: dict[str, Any]) -> None:
    assert manifest["default_model"] == DEFAULT_MODEL
    default = manifest["models"][DEFAULT_MODEL]["metrics"]["test"]
    dummy = manifest["models"]["dummy"]["metrics"]["test"]
    assert default["roc_auc"] >= 0.80
    assert default["pr_auc"] >= 0.50
    assert default["roc_auc"] > dummy["roc_auc"] and default["pr_auc"] > dummy["pr_auc"]
    assert default["f1"] > dummy["f1"]


def test_manifest_records_everything_per_model(manifest: dict[str, Any], trained_store: Path) -> None:
    assert list(manifest["models"]) == list(MODEL_NAMES)
    for name, entry in manifest["models"].items():
        assert entry["name"] == name
        assert entry["sha256"] == sha256_hex((trained_store / entry["file"]).read_bytes())
        assert entry["version"] == entry["sha256"][:12]
        assert entry["sklearn_version"] == sklearn.__version__
        assert entry["training_data_sha256"] == manifest["data"]["sha256"]
        assert entry["trained_at"] and 0 < entry["threshold"] < 1
        assert entry["feature_schema"] == schema_as_json()
        assert set(entry["metrics"]["test"]) == set(METRICS)
        assert set(entry["metrics"]["cv"]) == set(METRICS)
        assert all(set(v) == {"mean", "std"} for v in entry["metrics"]["cv"].values())
    assert manifest["data"]["rows"] == 1470 and manifest["data"]["positives"] == 237
    assert artifacts_present(trained_store)


def test_the_default_threshold_is_tuned_and_the_others_are_one_half(manifest: dict[str, Any]) -> None:
    thresholds = {n: e["threshold"] for n, e in manifest["models"].items()}
    assert thresholds["dummy"] == thresholds["logistic"] == thresholds["random_forest"] == 0.5
    assert thresholds[DEFAULT_MODEL] != 0.5
    assert "F1" in manifest["models"][DEFAULT_MODEL]["threshold_rule"]


def test_training_twice_gives_identical_artifacts_and_predictions(
    trained_store: Path, manifest: dict[str, Any], split: Split, tmp_path: Path
) -> None:
    again = train(tmp_path, progress=False)
    for name, entry in manifest["models"].items():
        first = joblib.load(trained_store / entry["file"])
        second = joblib.load(tmp_path / again["models"][name]["file"])
        np.testing.assert_array_equal(first.predict_proba(split.X_test), second.predict_proba(split.X_test))
        assert again["models"][name]["sha256"] == entry["sha256"]
        assert again["models"][name]["version"] == entry["version"]
        assert again["models"][name]["metrics"] == entry["metrics"]
