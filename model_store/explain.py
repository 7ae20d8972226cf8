"""Exact, additive explanations of a model's answers: base value + sum of contributions = its output.

- logistic (`linear_log_odds`, log-odds scale): each column's coefficient times its distance from the
  training mean (the baseline, carried inside the artifact), so the base value is the model's log-odds
  at the training mean.
- forests (`tree_shap`, probability scale): exact path-dependent TreeSHAP (explain_trees); the base
  value is the forest's expected probability over its training cover.
- dummy (`constant`, probability scale): the answer ignores the input; every contribution is 0.

Contributions are computed per encoded column, then summed back to the feature the client sent
(one-hot columns of a category add up), and sorted by absolute size. Positive raises the risk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from model_store.encoding import RowEncoder, UnsupportedTransformer
from model_store.explain_trees import ForestShap
from model_store.predictors import positive_column

# Set at training time on the final estimator: the mean of the encoded training matrix.
BASELINE_ATTRIBUTE = "explain_baseline_"


class ExplanationUnavailable(ValueError):
    """This model (or artifact) cannot be explained exactly; the message says why."""


@dataclass(frozen=True)
class Contribution:
    """How much one feature, at the employee's value, moved the output away from the base value."""

    feature: str
    value: Any
    contribution: float

    def as_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "value": self.value, "contribution": self.contribution}


@dataclass(frozen=True)
class Explanation:
    """One row's explanation. `output` is the model's output on `scale`; `probability` its P(attrition)."""

    method: str
    scale: str
    base_value: float
    output: float
    probability: float
    contributions: tuple[Contribution, ...]

    def contributions_json(self) -> list[dict[str, Any]]:
        return [c.as_json() for c in self.contributions]


class Explainer:
    """Per-column contributions of one fitted pipeline, grouped back to the client's features."""

    method: str
    scale: str

    def __init__(self, encoder: RowEncoder) -> None:
        self.encoder = encoder
        self.features, self.grouping = feature_grouping(encoder)

    def columns(self, X: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(base value, contributions per encoded column (rows × width), P(attrition) per row)."""
        raise NotImplementedError

    def explain(self, rows: Sequence[Mapping[str, Any]]) -> list[Explanation]:
        """One explanation per row (feature dicts as the client sent them)."""
        if len(rows) == 0:
            return []
        base, per_column, probability = self.columns(self.encoder.encode(rows))
        per_feature = per_column @ self.grouping
        outputs = base + per_column.sum(axis=1)
        return [
            Explanation(
                self.method,
                self.scale,
                float(base),
                float(outputs[i]),
                float(probability[i]),
                ranked(self.features, rows[i], per_feature[i]),
            )
            for i in range(len(rows))
        ]


class LinearExplainer(Explainer):
    """Logistic regression: coefficient × (column - training mean), on the log-odds scale."""

    method, scale = "linear_log_odds", "log_odds"

    def __init__(self, encoder: RowEncoder, coef: np.ndarray, intercept: float, baseline: np.ndarray) -> None:
        super().__init__(encoder)
        self.coef, self.intercept, self.baseline = coef, intercept, baseline
        self.base_value = float(self.baseline @ self.coef + self.intercept)

    @classmethod
    def of_model(
        cls, encoder: RowEncoder, model: LogisticRegression, baseline: np.ndarray
    ) -> LinearExplainer:
        sign = 1.0 if positive_column(model) == 1 else -1.0  # log-odds of class 1 either way
        coef = sign * np.asarray(model.coef_, dtype=float).ravel()
        return cls(encoder, coef, sign * float(np.asarray(model.intercept_).ravel()[0]), baseline)

    def columns(self, X: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        per_column = (X - self.baseline) * self.coef
        return self.base_value, per_column, expit(X @ self.coef + self.intercept)


class TreeExplainer(Explainer):
    """Random forest / extra trees: exact TreeSHAP of P(attrition), on the probability scale."""

    method, scale = "tree_shap", "probability"

    def __init__(self, encoder: RowEncoder, forest: Any) -> None:
        super().__init__(encoder)
        self.shap = ForestShap(forest, encoder.width)

    def columns(self, X: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        per_column = self.shap.shap_values(X)
        return self.shap.base_value, per_column, self.shap.base_value + per_column.sum(axis=1)


class ConstantExplainer(Explainer):
    """A model that answers the same probability whatever the input (the dummy): nothing to attribute."""

    method, scale = "constant", "probability"

    def __init__(self, encoder: RowEncoder, probability: float) -> None:
        super().__init__(encoder)
        self.probability = probability

    def columns(self, X: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return self.probability, np.zeros(X.shape), np.full(len(X), self.probability)


def explainer_for(pipeline: Pipeline) -> Explainer:
    """The exact explainer of a fitted pipeline; ExplanationUnavailable says why there is none."""
    try:
        preprocess, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        if len(pipeline.steps) != 2:
            raise UnsupportedTransformer(f"{len(pipeline.steps)} pipeline steps")
        encoder = RowEncoder.from_transformer(preprocess)
    except (UnsupportedTransformer, AttributeError) as exc:
        raise ExplanationUnavailable(
            f"the pipeline's layout is not one this explainer reads ({exc})"
        ) from None
    kind = type(model).__name__
    if type(model) is LogisticRegression and np.asarray(model.coef_).shape[0] == 1:
        baseline = getattr(model, BASELINE_ATTRIBUTE, None)
        if baseline is None or np.shape(baseline) != (encoder.width,):
            raise ExplanationUnavailable(
                "the logistic artifact carries no training baseline (trained before explanations "
                "existed); retrain with `python -m model_store --force`"
            )
        return LinearExplainer.of_model(encoder, model, np.asarray(baseline, dtype=float))
    if type(model) in (RandomForestClassifier, ExtraTreesClassifier) and model.n_outputs_ == 1:
        positive_column(model)  # a 0/1 classifier, or ValueError
        return TreeExplainer(encoder, model)
    if type(model) is DummyClassifier and model.strategy in ("prior", "most_frequent", "constant"):
        row = np.zeros((1, encoder.width))
        return ConstantExplainer(encoder, float(model.predict_proba(row)[0, positive_column(model)]))
    raise ExplanationUnavailable(f"no exact explanation is implemented for {kind} models")


def embed_baseline(pipeline: Pipeline, X: pd.DataFrame) -> None:
    """Training time: keep the mean of the encoded training matrix on the final estimator (pickled with
    it, so the hash the database registered covers it). The linear explanation's baseline."""
    preprocess, model = pipeline.steps[0][1], pipeline.steps[-1][1]
    encoded = np.asarray(preprocess.transform(X), dtype=float)
    setattr(model, BASELINE_ATTRIBUTE, encoded.mean(axis=0))


def feature_grouping(encoder: RowEncoder) -> tuple[tuple[str, ...], np.ndarray]:
    """The client's features (numeric, then categorical, as encoded) and the 0/1 matrix
    (width × features) that sums each feature's columns."""
    features = (*encoder.numeric, *(b.name for b in encoder.categories))
    grouping = np.zeros((encoder.width, len(features)))
    for j in range(len(encoder.numeric)):
        grouping[j, j] = 1.0
    for j, block in enumerate(encoder.categories, start=len(encoder.numeric)):
        grouping[block.offset : block.offset + len(block.index), j] = 1.0
    return features, grouping


def ranked(features: Sequence[str], row: Mapping[str, Any], values: np.ndarray) -> tuple[Contribution, ...]:
    """Contributions largest absolute value first (ties: the encoder's feature order)."""
    order = sorted(range(len(features)), key=lambda j: -abs(float(values[j])))
    return tuple(Contribution(features[j], row.get(features[j]), float(values[j])) for j in order)
