"""Fast P(attrition) from a verified pipeline: numpy for linear models, ONNX Runtime for forests.

Every predictor is compiled from the unpickled (hash-verified) pipeline at load time, so the DB's
sha256 stays the one trust root: a forest's ONNX graph was made at training time (onnx_export) and
travels inside the same pickle. `PipelinePredictor` is the plain scikit-learn path, kept as the
reference the fast ones are tested against and as the fallback for any other pipeline shape (and
for forests trained before they carried a graph).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import sklearn
from scipy.special import expit
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from model_store.encoding import RowEncoder, UnsupportedTransformer

log = logging.getLogger(__name__)


class Predictor(Protocol):
    """Turns feature rows into P(attrition), one float64 per row."""

    def proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray: ...


class PipelinePredictor:
    """The scikit-learn pipeline on a DataFrame: the reference path."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.columns = list(pipeline.feature_names_in_)
        self.positive = positive_column(pipeline)

    def frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """The rows as the DataFrame the pipeline was fitted on (same column order)."""
        return pd.DataFrame([[row[c] for c in self.columns] for row in rows], columns=self.columns)

    def proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.pipeline.predict_proba(self.frame(rows))[:, self.positive].astype(np.float64)


class LinearPredictor:
    """A binary linear model: expit(X·w + b), exactly what LogisticRegression.predict_proba computes."""

    def __init__(self, encoder: RowEncoder, model: LogisticRegression) -> None:
        self.encoder = encoder
        self.coef = np.asarray(model.coef_, dtype=float).ravel()
        self.intercept = float(np.asarray(model.intercept_).ravel()[0])
        self.sign = 1.0 if positive_column(model) == 1 else -1.0

    def proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        z = self.encoder.encode(rows) @ self.coef + self.intercept
        return expit(self.sign * z)


class OnnxForestPredictor:
    """A tree ensemble run by ONNX Runtime on one thread, from the graph its artifact carries.

    Holds the encoder and the session only: the scikit-learn forest can be freed once this exists.
    """

    def __init__(self, encoder: RowEncoder, onnx: bytes, positive: int) -> None:
        self.encoder = encoder
        self.session = onnx_session(onnx)
        outputs = [o.name for o in self.session.get_outputs()]
        if ONNX_OUTPUT in outputs:
            self.output, self.column = ONNX_OUTPUT, 0
        else:  # skl2onnx's TreeEnsembleClassifier (artifacts trained before onnx_export): every class
            self.output, self.column = "probabilities", positive

    def proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = self.encoder.encode(rows).astype(np.float32)
        probabilities = self.session.run([self.output], {ONNX_INPUT: X})[0]
        return probabilities[:, self.column].astype(np.float64)


class EstimatorPredictor:
    """Any other final estimator, fed the numpy matrix (skipping pandas and the ColumnTransformer)."""

    def __init__(self, encoder: RowEncoder, model: Any) -> None:
        self.encoder = encoder
        self.model = model
        self.positive = positive_column(model)

    def proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = self.encoder.encode(rows)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self.model.predict_proba(X)[:, self.positive].astype(np.float64)


def positive_column(model: Any) -> int:
    """Column of class 1 in predict_proba; ValueError when the model is not a 0/1 classifier."""
    classes = [int(c) for c in model.classes_]
    if sorted(classes) != [0, 1]:
        raise ValueError(f"expected a 0/1 classifier, classes are {classes}")
    return classes.index(1)


ONNX_ATTRIBUTE = "onnx_model_"  # set on fitted forests at training time (onnx_export); pickled with them
ONNX_INPUT = "X"  # float32, rows × encoder width
ONNX_OUTPUT = "positive_probability"  # float64, rows × 1


def onnx_session(onnx: bytes) -> Any:
    """ONNX Runtime session on one thread (a second thread only slows single rows on 2 cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])


def compile_predictor(pipeline: Pipeline) -> Predictor:
    """The fastest predictor that reproduces `pipeline`; the pipeline itself when its shape is unknown."""
    try:
        preprocess, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        if len(pipeline.steps) != 2:
            raise UnsupportedTransformer(f"{len(pipeline.steps)} pipeline steps")
        encoder = RowEncoder.from_transformer(preprocess)
    except (UnsupportedTransformer, AttributeError):
        return PipelinePredictor(pipeline)
    if type(model) is LogisticRegression and np.asarray(model.coef_).shape[0] == 1:
        return LinearPredictor(encoder, model)
    if type(model) in (RandomForestClassifier, ExtraTreesClassifier):
        return forest_predictor(pipeline, encoder, model)
    return EstimatorPredictor(encoder, model)


def forest_predictor(pipeline: Pipeline, encoder: RowEncoder, model: Any) -> Predictor:
    """ONNX Runtime on the graph the artifact carries; scikit-learn itself when there is none (or it fails).

    Never converts here: skl2onnx's import and garbage cost a listener more than 100 MB.
    """
    positive = positive_column(model)
    onnx = getattr(model, ONNX_ATTRIBUTE, None)
    if onnx is None:  # trained before forests carried their graph
        return PipelinePredictor(pipeline)
    try:
        return OnnxForestPredictor(encoder, onnx, positive)
    except Exception as exc:  # e.g. an ONNX Runtime older than the graph's opset
        log.warning("forest served by scikit-learn (slow): its ONNX graph does not load: %s", exc)
        return PipelinePredictor(pipeline)
