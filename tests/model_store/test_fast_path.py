"""The fast predictors reproduce scikit-learn's probabilities (to 1e-5) on the held-out split."""

from __future__ import annotations

import copy
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from model_store.features import FeatureError
from model_store.loading import release_freed_memory
from model_store.onnx_export import forest_onnx
from model_store.pipelines import MODEL_NAMES
from model_store.predictors import (
    ONNX_ATTRIBUTE,
    ONNX_INPUT,
    ONNX_OUTPUT,
    EstimatorPredictor,
    LinearPredictor,
    OnnxForestPredictor,
    PipelinePredictor,
    compile_predictor,
    onnx_session,
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
        "print(sorted({'skl2onnx', 'onnx', 'model_store.onnx_export'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["random_forest", "random_forest_e04"])
def test_the_forests_graph_computes_what_scikit_learn_computes(
    name: str, pipelines: dict[str, Any], test_rows: list[dict[str, Any]], split: Split
) -> None:
    # float32 features against float64 thresholds, float64 averages: the same numbers, not just close.
    fast = compile_predictor(pipelines[name])
    reference = pipelines[name].predict_proba(split.X_test)[:, 1]
    np.testing.assert_allclose(fast.proba(test_rows), reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "forest",
    [
        RandomForestClassifier(n_estimators=40, random_state=0),
        RandomForestClassifier(
            n_estimators=40, class_weight="balanced_subsample", min_samples_leaf=3, random_state=1
        ),
        ExtraTreesClassifier(n_estimators=40, random_state=0),
    ],
    ids=["random_forest", "class_weight", "extra_trees"],
)
def test_forest_onnx_matches_predict_proba_even_on_the_thresholds(forest: Any) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).round(1)
    y = (X[:, 0] + rng.normal(size=300) > 0.5).astype(int)
    forest.fit(X, y)
    thresholds = np.concatenate([t.tree_.threshold[t.tree_.feature >= 0] for t in forest.estimators_])
    # Rows sitting exactly on (the float32 rounding of) split values take the <= branch as in sklearn.
    on_splits = np.repeat(thresholds[:400, None], 4, axis=1).astype(np.float32)
    X_test = np.vstack([rng.normal(size=(400, 4)), on_splits])
    session = onnx_session(forest_onnx(forest, 4))
    got = session.run([ONNX_OUTPUT], {ONNX_INPUT: X_test.astype(np.float32)})[0][:, 0]
    np.testing.assert_allclose(got, forest.predict_proba(X_test)[:, 1], rtol=0, atol=1e-12)


def test_forest_onnx_handles_trees_that_are_a_single_leaf() -> None:
    # Bootstrap samples of three rows are often pure: those trees are one leaf, no split.
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit([[0.0], [1.0], [2.0]], [0, 0, 1])
    assert any(t.tree_.node_count == 1 for t in forest.estimators_)
    X = np.linspace(-1, 3, 41)[:, None]
    got = onnx_session(forest_onnx(forest, 1)).run([ONNX_OUTPUT], {ONNX_INPUT: X.astype(np.float32)})[0]
    np.testing.assert_allclose(got[:, 0], forest.predict_proba(X)[:, 1], rtol=0, atol=1e-12)


def test_a_forest_without_its_graph_is_served_by_scikit_learn_not_converted(
    pipelines: dict[str, Any], test_rows: list[dict[str, Any]], split: Split
) -> None:
    # Artifacts trained before forests carried their graph: the reference path, never skl2onnx.
    old = copy.deepcopy(pipelines["random_forest_e04"])
    delattr(old.steps[-1][1], ONNX_ATTRIBUTE)
    predictor = compile_predictor(old)
    assert type(predictor) is PipelinePredictor
    np.testing.assert_array_equal(predictor.proba(test_rows[:20]), old.predict_proba(split.X_test[:20])[:, 1])


def test_a_graph_onnx_runtime_cannot_load_falls_back_to_scikit_learn(
    pipelines: dict[str, Any], test_rows: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    broken = copy.deepcopy(pipelines["random_forest_e04"])
    setattr(broken.steps[-1][1], ONNX_ATTRIBUTE, b"not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="model_store.predictors"):
        predictor = compile_predictor(broken)
    assert type(predictor) is PipelinePredictor
    assert "served by scikit-learn" in caplog.text
    assert predictor.proba(test_rows[:3]).shape == (3,)


def test_skl2onnx_graphs_of_earlier_artifacts_still_run_on_onnx_runtime(
    pipelines: dict[str, Any], test_rows: list[dict[str, Any]], split: Split
) -> None:
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType

    earlier = copy.deepcopy(pipelines["random_forest_e04"])
    forest = earlier.steps[-1][1]
    width = len(earlier.steps[0][1].get_feature_names_out())
    graph = skl2onnx.convert_sklearn(
        forest,
        initial_types=[(ONNX_INPUT, FloatTensorType([None, width]))],
        options={id(forest): {"zipmap": False}},
    )
    setattr(forest, ONNX_ATTRIBUTE, graph.SerializeToString())
    predictor = compile_predictor(earlier)
    assert type(predictor) is OnnxForestPredictor
    reference = earlier.predict_proba(split.X_test)[:, 1]
    np.testing.assert_allclose(predictor.proba(test_rows), reference, rtol=0, atol=1e-5)


def test_releasing_freed_memory_is_safe_anywhere() -> None:
    release_freed_memory()  # glibc's malloc_trim on Linux; nothing elsewhere
    release_freed_memory()
