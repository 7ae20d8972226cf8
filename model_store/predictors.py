"""Fast P(attrition) from a verified pipeline: numpy for linear models, ONNX Runtime for forests.

Every predictor is compiled from the unpickled (hash-verified) pipeline at load time, so the DB's
sha256 stays the one trust root; `PipelinePredictor` is the plain scikit-learn path, kept as the
reference the fast ones are tested against and as the fallback for any other pipeline shape.
"""

from __future__ import annotations

import warnings
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
    """A tree ensemble converted to ONNX and run by ONNX Runtime on one thread."""

    def __init__(self, encoder: RowEncoder, model: Any) -> None:
        self.encoder = encoder
        self.positive = positive_column(model)
        onnx = getattr(model, ONNX_ATTRIBUTE, None) or onnx_bytes(model, encoder.width)
        self.session = onnx_session(onnx)

    def proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = self.encoder.encode(rows).astype(np.float32)
        probabilities = self.session.run(["probabilities"], {"X": X})[0]
        return probabilities[:, self.positive].astype(np.float64)


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


ONNX_ATTRIBUTE = "onnx_model_"  # set on fitted forests at training time; pickled with them


def onnx_bytes(model: Any, width: int) -> bytes:
    """The ONNX conversion of a fitted tree ensemble taking `width` float features."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    with warnings.catch_warnings():
        # skl2onnx warns about opset choices it makes for us; nothing the caller can act on.
        warnings.simplefilter("ignore")
        onx = convert_sklearn(
            model,
            name="attrition_forest",  # a fixed graph name: skl2onnx picks a random one otherwise
            initial_types=[("X", FloatTensorType([None, width]))],
            options={id(model): {"zipmap": False}},
        )
    return onx.SerializeToString()


def onnx_session(onnx: bytes) -> Any:
    """ONNX Runtime session on one thread (a second thread only slows single rows on 2 cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])


def embed_onnx(pipeline: Pipeline) -> None:
    """Attach the ONNX conversion to a pipeline's forest, so loading never has to convert."""
    try:
        preprocess, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        encoder = RowEncoder.from_transformer(preprocess)
    except (UnsupportedTransformer, AttributeError):
        return
    if type(model) in (RandomForestClassifier, ExtraTreesClassifier):
        setattr(model, ONNX_ATTRIBUTE, onnx_bytes(model, encoder.width))


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
        return OnnxForestPredictor(encoder, model)
    return EstimatorPredictor(encoder, model)
