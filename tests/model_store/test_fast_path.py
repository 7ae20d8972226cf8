"""The fast predictors reproduce scikit-learn's probabilities (to 1e-5) on the held-out split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from model_store.features import FeatureError
from model_store.pipelines import MODEL_NAMES
from model_store.predictors import (
    EstimatorPredictor,
    LinearPredictor,
    OnnxForestPredictor,
    PipelinePredictor,
    compile_predictor,
)
from model_store.training import Split

EXPECTED = {
    "dummy": EstimatorPredictor,
    "logistic": LinearPredictor,
    "random_forest": OnnxForestPredictor,
    "random_forest_e04": OnnxForestPredictor,
}


@pytest.fixture(scope="module")
def pipelines(trained_store: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    return {n: joblib.load(trained_store / e["file"]) for n, e in manifest["models"].items()}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fast_path_matches_scikit_learn_on_the_test_split(
    name: str, pipelines: dict[str, Any], test_rows: list[dict[str, Any]], split: Split
) -> None:
    fast = compile_predictor(pipelines[name])
    assert type(fast) is EXPECTED[name]
    reference = pipelines[name].predict_proba(split.X_test)[:, 1]
    np.testing.assert_allclose(fast.proba(test_rows), reference, rtol=0, atol=1e-5)
    single = np.array([fast.proba([row])[0] for row in test_rows[:25]])
    np.testing.assert_allclose(single, reference[:25], rtol=0, atol=1e-5)


def test_pipeline_predictor_is_scikit_learn_itself(
    pipelines: dict[str, Any], test_rows: list[dict[str, Any]], split: Split
) -> None:
    model = pipelines["logistic"]
    np.testing.assert_array_equal(
        PipelinePredictor(model).proba(test_rows), model.predict_proba(split.X_test)[:, 1]
    )


@pytest.mark.parametrize("name", ["logistic", "random_forest_e04"])
def test_fast_path_names_the_field_of_a_bad_row(
    name: str, pipelines: dict[str, Any], test_rows: list[dict[str, Any]]
) -> None:
    fast = compile_predictor(pipelines[name])
    missing = {k: v for k, v in test_rows[0].items() if k != "monthly_income"}
    with pytest.raises(FeatureError) as caught:
        fast.proba([test_rows[1], missing])
    assert caught.value.field == "monthly_income"
    with pytest.raises(FeatureError) as caught:
        fast.proba([test_rows[0] | {"over_time": "Sometimes"}])
    assert caught.value.field == "over_time"
    with pytest.raises(FeatureError) as caught:
        fast.proba([test_rows[0] | {"age": "old"}])
    assert caught.value.field == "age"


def test_forests_ship_their_onnx_so_loading_never_converts(trained_store: Path) -> None:
    # Converting at load cost the listener >100 MB of resident memory; the bytes come with the artifact.
    script = (
        "import io, sys, joblib, pathlib\n"
        "from model_store.predictors import compile_predictor, OnnxForestPredictor\n"
        f"for path in pathlib.Path({str(trained_store)!r}).glob('random_forest*.joblib'):\n"
        "    predictor = compile_predictor(joblib.load(io.BytesIO(path.read_bytes())))\n"
        "    assert isinstance(predictor, OnnxForestPredictor), type(predictor)\n"
        "print('skl2onnx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
