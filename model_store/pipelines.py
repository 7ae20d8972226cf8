"""The candidates as scikit-learn pipelines: what each one is, what it tunes, and which ones are served.

Every step (log1p, scaling, one-hot, class weights) is inside the pipeline, so cross-validation fits
all of it on the training folds only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_store.features import CATEGORICAL, FEATURES, NUMERIC
from model_store.transforms import Log1p

SEED = 20240611
N_TREES = 200
DEFAULT_MODEL = "random_forest_e04"
MODEL_NAMES = ("dummy", "logistic", "random_forest", DEFAULT_MODEL)  # trained, registered and served
EXTRA_CANDIDATES = ("hist_gradient_boosting",)  # evaluated under the same protocol, not served
CANDIDATE_NAMES = (*MODEL_NAMES, *EXTRA_CANDIDATES)
# Right-skewed columns (pay and counts of years or employers): the logistic model takes log(1 + x).
SKEWED = (
    "distance_from_home",
    "monthly_income",
    "num_companies_worked",
    "total_working_years",
    "years_at_company",
    "years_in_current_role",
    "years_since_last_promotion",
    "years_with_curr_manager",
)
LOGISTIC_C = (0.03, 0.1, 0.3, 1.0)


def preprocessor(scale_numbers: bool, log_skewed: bool = False) -> ColumnTransformer:
    """Numbers scaled (or passed through; log1p of the skewed ones first when asked), categories one-hot
    in schema order; unknown categories raise."""
    categories = [list(f.categories) for f in FEATURES if f.type == "category"]
    numbers: Any = StandardScaler() if scale_numbers else "passthrough"
    if log_skewed:
        numbers = Pipeline([("log1p", Log1p(SKEWED)), ("scale", StandardScaler())])
    return ColumnTransformer(
        [
            ("num", numbers, list(NUMERIC)),
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
        return LogisticRegression(max_iter=5000, **({"C": 0.1} | dict(params)))
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=N_TREES, class_weight="balanced", random_state=SEED)
    if name == DEFAULT_MODEL:
        return RandomForestClassifier(n_estimators=N_TREES, random_state=SEED, **params)
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(
            max_depth=3, learning_rate=0.05, max_iter=200, l2_regularization=1.0, random_state=SEED
        )
    raise ValueError(f"unknown model {name!r}; known: {', '.join(CANDIDATE_NAMES)}")


def build_pipeline(name: str, params: Mapping[str, Any] | None = None) -> Pipeline:
    """An unfitted pipeline for candidate `name` with `params` (the tuned ones; see RECIPES)."""
    return Pipeline(
        [
            ("features", preprocessor(scale_numbers=name == "logistic", log_skewed=name == "logistic")),
            ("model", _estimator(name, params or {})),
        ]
    )


@dataclass(frozen=True)
class Recipe:
    """How one candidate is trained: its grid (tuned by inner CV on the training rows only, scored by
    `tune_by`), and whether its threshold follows the F1 rule or stays at 0.5."""

    name: str
    description: str
    grid: tuple[dict[str, Any], ...] = ({},)
    tune_by: str = "roc_auc"
    f1_threshold: bool = True
    out_of_bag: bool = False  # forests: tune and set the threshold on out-of-bag probabilities

    @property
    def served(self) -> bool:
        return self.name in MODEL_NAMES


# random_forest_e04 is tuned for the minority class: how much the leavers weigh (class weights
# recomputed per bootstrap sample, or a fixed 1:3). Scored by out-of-bag PR-AUC (average precision),
# which only rewards ranking leavers well. (Leaves of 8 rows and √n features per split never won.)
E04_GRID: tuple[dict[str, Any], ...] = tuple(
    {"class_weight": weight, "min_samples_leaf": leaf, "max_features": 3}
    for weight in ("balanced_subsample", {0: 1, 1: 3})
    for leaf in (3,)
)

RECIPES: dict[str, Recipe] = {
    "dummy": Recipe(
        "dummy",
        "predicts the training base rate for everyone (the baseline: no ranking, never a leaver at 0.5)",
        f1_threshold=False,
    ),
    "logistic": Recipe(
        "logistic",
        "log(1 + x) of income and the tenure and distance counts, standardised numbers, one-hot "
        "categories, L2 logistic regression (no class weights: its probabilities stay calibrated); "
        f"C from {', '.join(f'{c:g}' for c in LOGISTIC_C)} by inner-CV log loss",
        grid=tuple({"C": c} for c in LOGISTIC_C),
        tune_by="log_loss",
    ),
    "random_forest": Recipe(
        "random_forest",
        f"one-hot categories, {N_TREES} trees, balanced class weights, default depth",
        out_of_bag=True,
    ),
    DEFAULT_MODEL: Recipe(
        DEFAULT_MODEL,
        f"a random forest of {N_TREES} trees tuned for the minority class: class weights balanced per "
        "bootstrap sample or 1:3 (by out-of-bag PR-AUC), at least 3 rows per leaf, 3 features per split",
        grid=E04_GRID,
        tune_by="pr_auc",
        out_of_bag=True,
    ),
    "hist_gradient_boosting": Recipe(
        "hist_gradient_boosting",
        "histogram gradient boosting on one-hot categories: depth 3, learning rate 0.05, 200 iterations, "
        "L2 1.0",
    ),
}


def params_key(params: Mapping[str, Any]) -> str:
    """A readable, stable key for one configuration: `C=0.1`, `class_weight='balanced', …`."""
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())) or "(fixed)"
