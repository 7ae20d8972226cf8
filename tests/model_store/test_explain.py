"""Explanations are exact: additive on real employees, equal to brute-force Shapley values, grouped right."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from scipy.special import logit
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from model_store.data import load_attrition
from model_store.explain import (
    BASELINE_ATTRIBUTE,
    ExplanationUnavailable,
    LinearExplainer,
    TreeExplainer,
    explainer_for,
)
from model_store.explain_trees import ForestShap
from model_store.features import FEATURES
from model_store.manifest import read_manifest
from model_store.pipelines import build_pipeline
from model_store.predictors import compile_predictor

MODELS = ("dummy", "logistic", "random_forest", "random_forest_e04")
EMPLOYEES = 200


@pytest.fixture(scope="module")
def employees() -> list[dict[str, Any]]:
    """200 real employees of the data set, spread over it (every 7th row)."""
    return load_attrition().X.iloc[::7].head(EMPLOYEES).to_dict("records")


def trained_pipeline(store: Path, name: str) -> Pipeline:
    return joblib.load(store / read_manifest(store)["models"][name]["file"])


@pytest.mark.parametrize("name", MODELS)
def test_base_value_plus_contributions_is_the_served_output_on_200_real_employees(
    trained_store: Path, employees: list[dict[str, Any]], name: str
) -> None:
    pipeline = trained_pipeline(trained_store, name)
    explainer = explainer_for(pipeline)
    # What the listener serves (ONNX for forests, numpy for the logistic), and scikit-learn itself.
    served = compile_predictor(pipeline).proba(employees)
    reference = pipeline.predict_proba(pipeline_frame(pipeline, employees))[:, 1]
    explanations = explainer.explain(employees)
    assert len(explanations) == EMPLOYEES
    for explanation, p_served, p_sklearn in zip(explanations, served, reference, strict=True):
        total = explanation.base_value + sum(c.contribution for c in explanation.contributions)
        assert abs(total - explanation.output) < 1e-9
        expected = logit(p_sklearn) if explanation.scale == "log_odds" else p_sklearn
        assert abs(total - expected) < 1e-6
        assert abs(explanation.probability - p_served) < 1e-6
        assert [c.feature for c in explanation.contributions] != []
        assert {c.feature for c in explanation.contributions} == {f.name for f in FEATURES}


def pipeline_frame(pipeline: Pipeline, rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows, columns=list(pipeline.feature_names_in_))


def test_each_model_states_its_method_and_scale(trained_store: Path, employees: list[dict[str, Any]]) -> None:
    got = {
        name: explainer_for(trained_pipeline(trained_store, name)).explain(employees[:1])[0]
        for name in MODELS
    }
    assert {n: (e.method, e.scale) for n, e in got.items()} == {
        "dummy": ("constant", "probability"),
        "logistic": ("linear_log_odds", "log_odds"),
        "random_forest": ("tree_shap", "probability"),
        "random_forest_e04": ("tree_shap", "probability"),
    }


def test_the_dummy_explains_itself_with_zeros(trained_store: Path, employees: list[dict[str, Any]]) -> None:
    explanation = explainer_for(trained_pipeline(trained_store, "dummy")).explain(employees[:5])
    for e in explanation:
        assert all(c.contribution == 0.0 for c in e.contributions)
        assert e.base_value == e.output == pytest.approx(188 / 1176, abs=0.01)


def test_contributions_come_largest_first_with_the_employees_values(
    trained_store: Path, employees: list[dict[str, Any]]
) -> None:
    employee = employees[3]
    [explanation] = explainer_for(trained_pipeline(trained_store, "random_forest_e04")).explain([employee])
    sizes = [abs(c.contribution) for c in explanation.contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert all(c.value == employee[c.feature] for c in explanation.contributions)


def test_logistic_baseline_is_the_training_mean(trained_store: Path) -> None:
    pipeline = trained_pipeline(trained_store, "logistic")
    explainer = explainer_for(pipeline)
    assert isinstance(explainer, LinearExplainer)
    baseline = getattr(pipeline.steps[-1][1], BASELINE_ATTRIBUTE)
    # Scaled numbers average 0 over the training rows; one-hot columns average to category shares,
    # which add up to 1 per feature.
    n_numeric = len(explainer.encoder.numeric)
    assert np.allclose(baseline[:n_numeric], 0.0, atol=1e-9)
    for block in explainer.encoder.categories:
        assert sum(baseline[block.offset : block.offset + len(block.index)]) == pytest.approx(1.0)
    # An employee at the baseline is explained by the base value alone.
    assert explainer.base_value == pytest.approx(baseline @ explainer.coef + explainer.intercept)


@pytest.mark.parametrize("name", ["logistic", "random_forest"])
def test_grouped_one_hot_contributions_sum_to_the_ungrouped_ones(
    trained_store: Path, employees: list[dict[str, Any]], name: str
) -> None:
    explainer = explainer_for(trained_pipeline(trained_store, name))
    rows = employees[:20]
    _, per_column, _ = explainer.columns(explainer.encoder.encode(rows))
    for row, columns, explanation in zip(rows, per_column, explainer.explain(rows), strict=True):
        grouped = {c.feature: c.contribution for c in explanation.contributions}
        for block in explainer.encoder.categories:
            ungrouped = columns[block.offset : block.offset + len(block.index)]
            assert grouped[block.name] == pytest.approx(ungrouped.sum(), abs=1e-12)
            assert row[block.name] in block.index
        for j, feature in enumerate(explainer.encoder.numeric):
            assert grouped[feature] == columns[j]
        assert sum(grouped.values()) == pytest.approx(columns.sum(), abs=1e-12)


# -- TreeSHAP against brute force ------------------------------------------------------------------


def path_dependent_value(tree: Any, x: np.ndarray, known: set[int], positive: int) -> float:
    """The tree's output when only `known` features are known: unknown splits average their children
    by training cover (the value function TreeSHAP takes the Shapley values of)."""

    def value(node: int) -> float:
        left, right = tree.children_left[node], tree.children_right[node]
        if left == -1:
            counts = tree.value[node, 0]
            return float(counts[positive] / counts.sum())
        f = tree.feature[node]
        if f in known:
            return value(left if np.float32(x[f]) <= tree.threshold[node] else right)
        cover = tree.weighted_n_node_samples
        return float((cover[left] * value(left) + cover[right] * value(right)) / cover[node])

    return value(0)


def brute_force_shapley(forest: RandomForestClassifier, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Shapley values from their definition: every coalition of the p features, weighted."""
    p = len(x)
    positive = list(forest.classes_).index(1)
    v = {
        frozenset(s): float(
            np.mean([path_dependent_value(e.tree_, x, set(s), positive) for e in forest.estimators_])
        )
        for r in range(p + 1)
        for s in itertools.combinations(range(p), r)
    }
    phi = np.zeros(p)
    for i in range(p):
        for s, vs in v.items():
            if i not in s:
                weight = math.factorial(len(s)) * math.factorial(p - len(s) - 1) / math.factorial(p)
                phi[i] += weight * (v[s | {i}] - vs)
    return v[frozenset()], phi


def test_tree_shap_equals_brute_force_shapley_on_a_small_forest_of_real_employees() -> None:
    data = load_attrition()
    pipeline = build_pipeline("random_forest")
    encoded = pipeline.steps[0][1].fit_transform(data.X)
    # Eight real columns (numbers and a few one-hot ones), small deep-enough trees: 256 coalitions.
    columns = [0, 1, 4, 11, 14, 20, 40, 41]
    X = encoded[:, columns]
    forest = RandomForestClassifier(
        n_estimators=4, max_depth=6, class_weight="balanced_subsample", random_state=3
    ).fit(X, data.y)
    shap = ForestShap(forest, len(columns))
    for x in X[:12]:
        base, expected = brute_force_shapley(forest, x)
        got = shap.shap_values(x[None])[0]
        assert abs(shap.base_value - base) < 1e-6
        assert np.abs(got - expected).max() < 1e-6
        assert abs(shap.base_value + got.sum() - forest.predict_proba(x[None])[0, 1]) < 1e-9


def test_tree_shap_of_a_batch_equals_row_by_row(trained_store: Path, employees: list[dict[str, Any]]) -> None:
    explainer = explainer_for(trained_pipeline(trained_store, "random_forest_e04"))
    assert isinstance(explainer, TreeExplainer)
    X = explainer.encoder.encode(employees[:40])
    batch = explainer.shap.shap_values(X)
    single = np.vstack([explainer.shap.shap_values(X[i : i + 1]) for i in range(0, 40, 13)])
    assert np.abs(batch[::13] - single).max() < 1e-12


def test_a_logistic_trained_without_a_baseline_is_refused_with_the_fix(trained_store: Path) -> None:
    pipeline = trained_pipeline(trained_store, "logistic")
    delattr(pipeline.steps[-1][1], BASELINE_ATTRIBUTE)
    with pytest.raises(ExplanationUnavailable, match="retrain"):
        explainer_for(pipeline)


def test_a_model_kind_without_an_exact_method_is_refused_by_name() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = load_attrition()
    pipeline = build_pipeline("random_forest")
    pipeline.steps[-1] = ("model", HistGradientBoostingClassifier(max_iter=5))
    pipeline.fit(data.X, data.y)
    with pytest.raises(ExplanationUnavailable, match="HistGradientBoostingClassifier"):
        explainer_for(pipeline)
