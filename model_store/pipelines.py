"""The four models as scikit-learn pipelines, and the grid random_forest_e04 is tuned over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_store.features import CATEGORICAL, FEATURES, NUMERIC

SEED = 20240611
N_TREES = 300
DEFAULT_MODEL = "random_forest_e04"
MODEL_NAMES = ("dummy", "logistic", "random_forest", DEFAULT_MODEL)


def preprocessor(scale_numbers: bool) -> ColumnTransformer:
    """Numbers scaled (or passed through), categories one-hot in schema order; unknown categories raise."""
    categories = [list(f.categories) for f in FEATURES if f.type == "category"]
    return ColumnTransformer(
        [
            ("num", StandardScaler() if scale_numbers else "passthrough", list(NUMERIC)),
            (
                "cat",
                OneHotEncoder(categories=categories, handle_unknown="error", sparse_output=False),
                list(CATEGORICAL),
            ),
        ],
        verbose_feature_names_out=False,
    )


def _estimator(name: str, params: Mapping[str, Any]) -> ClassifierMixin:
    if name == "dummy":
        return DummyClassifier(strategy="prior")
    if name == "logistic":
        return LogisticRegression(class_weight="balanced", C=1.0, max_iter=5000)
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=N_TREES, class_weight="balanced", random_state=SEED)
    if name == DEFAULT_MODEL:
        return RandomForestClassifier(n_estimators=N_TREES, random_state=SEED, **params)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")


def build_pipeline(name: str, params: Mapping[str, Any] | None = None) -> Pipeline:
    """An unfitted pipeline for model `name` (params only matter for the tuned forest)."""
    return Pipeline(
        [
            ("features", preprocessor(scale_numbers=name == "logistic")),
            ("model", _estimator(name, params or {})),
        ]
    )


@dataclass(frozen=True)
class Candidate:
    """One model configuration to cross-validate."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.model}({inner})"


# random_forest_e04 is tuned for the minority class: how much the leavers weigh (class weights
# recomputed per bootstrap sample, or a fixed 1:3), how coarse the leaves are, and how many features
# each split sees. Scored by PR-AUC (average precision), which only rewards ranking leavers well.
E04_GRID: tuple[dict[str, Any], ...] = tuple(
    {"class_weight": weight, "min_samples_leaf": leaf, "max_features": features}
    for weight in ("balanced_subsample", {0: 1, 1: 3})
    for leaf in (3, 8)
    for features in (3, "sqrt")
)


def candidates() -> list[Candidate]:
    """Every configuration training cross-validates: one per fixed model, the grid for the tuned one."""
    fixed = [Candidate(name) for name in MODEL_NAMES if name != DEFAULT_MODEL]
    return fixed + [Candidate(DEFAULT_MODEL, dict(p)) for p in E04_GRID]
