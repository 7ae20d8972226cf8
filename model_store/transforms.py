"""Transformers of our own that pipelines pickle: keep their module path and attributes stable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class Log1p(TransformerMixin, BaseEstimator):
    """log(1 + x) of the named columns of a DataFrame, the others unchanged (for skewed counts and pay)."""

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> Log1p:
        unknown = sorted(set(self.columns) - set(X.columns))
        if unknown:
            raise ValueError(f"Log1p: columns {unknown} are not in the data")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.astype(float)
        for c in self.columns:
            out[c] = np.log1p(out[c])
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_in_, dtype=object)
