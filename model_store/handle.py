"""ModelHandle: one loaded, verified model version, ready to predict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_store.predictors import Predictor


@dataclass(frozen=True)
class ModelHandle:
    """A model version that passed its hash check; `predict` is vectorised over rows."""

    name: str
    version: str
    sha256: str
    threshold: float
    predictor: Predictor = field(repr=False, compare=False)

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(classes 0/1 as int64, P(attrition) as float64), one of each per row; 1 when P >= threshold."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        # ONNX Runtime sums tree votes in float32: keep probabilities inside [0, 1] for the DB's CHECK.
        proba = np.clip(self.predictor.proba(rows), 0.0, 1.0)
        return (proba >= self.threshold).astype(np.int64), proba
