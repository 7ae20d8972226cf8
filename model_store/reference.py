"""The training distribution of each feature, and the population stability index (PSI) against it.

Numbers are cut into quantile bins of the training data (ties merge bins, so integer features with
few values get fewer bins); categories are compared share by share. Shares are floored before the
logarithm, so an empty bin costs a bounded amount instead of infinity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from model_store.data import load_attrition
from model_store.features import FEATURES, Feature

QUANTILE_BINS = 10
SHARE_FLOOR = 1e-4
MIN_SAMPLE = 50  # below this, PSI is mostly sampling noise: reported as unknown
REFERENCE_NAME = "training data"


@dataclass(frozen=True)
class FeatureReference:
    """One feature's training distribution: bin edges (numbers) or categories, and the share of each."""

    name: str
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()  # numbers: inner cut points; bin i holds edges[i-1] <= x < edges[i]
    categories: tuple[str, ...] = ()  # categories: in schema order

    @property
    def is_category(self) -> bool:
        return bool(self.categories)

    def counts(self, values: Iterable[Any]) -> np.ndarray:
        """How many of `values` fall in each bin or category (values of the wrong kind count nowhere)."""
        if self.is_category:
            index = {c: i for i, c in enumerate(self.categories)}
            positions = [index[v] for v in values if isinstance(v, str) and v in index]
            return np.bincount(np.asarray(positions, dtype=np.int64), minlength=len(self.categories))
        numbers = np.asarray(
            [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)], dtype=float
        )
        numbers = numbers[np.isfinite(numbers)]
        bins = np.searchsorted(np.asarray(self.edges, dtype=float), numbers, side="right")
        return np.bincount(bins, minlength=len(self.edges) + 1)


def feature_reference(feature: Feature, values: pd.Series, bins: int = QUANTILE_BINS) -> FeatureReference:
    """The reference of one feature from its training column."""
    if feature.type == "category":
        ref = FeatureReference(feature.name, (), categories=feature.categories)
    else:
        cuts = np.quantile(values.to_numpy(dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
        ref = FeatureReference(feature.name, (), edges=tuple(float(e) for e in np.unique(cuts)))
    counts = ref.counts(values.tolist())
    return FeatureReference(ref.name, tuple((counts / len(values)).tolist()), ref.edges, ref.categories)


def reference_from(X: pd.DataFrame, schema: Sequence[Feature] = FEATURES) -> tuple[FeatureReference, ...]:
    """Every feature's reference, computed from a training frame with one column per feature."""
    return tuple(feature_reference(f, X[f.name]) for f in schema)


@lru_cache(maxsize=1)
def training_reference() -> tuple[FeatureReference, ...]:
    """The reference of the data the models were trained on (computed once per process)."""
    return reference_from(load_attrition().X)


def psi(expected: Sequence[float], actual: Sequence[float], floor: float = SHARE_FLOOR) -> float:
    """Population stability index: sum of (actual - expected) * ln(actual / expected), shares floored."""
    e = np.maximum(np.asarray(expected, dtype=float), floor)
    a = np.maximum(np.asarray(actual, dtype=float), floor)
    if e.shape != a.shape:
        raise ValueError(f"expected {e.size} shares, got {a.size}")
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float | None  # None: fewer than MIN_SAMPLE values to judge by


def feature_drift(
    rows: Sequence[Mapping[str, Any]],
    reference: Sequence[FeatureReference] | None = None,
    min_sample: int = MIN_SAMPLE,
) -> list[FeatureDrift]:
    """PSI of each feature of `rows` against `reference` (default: the training data), worst first."""
    drifts = []
    for ref in training_reference() if reference is None else reference:
        counts = ref.counts(row.get(ref.name) for row in rows)
        total = int(counts.sum())
        value = psi(ref.shares, counts / total) if total >= min_sample else None
        drifts.append(FeatureDrift(ref.name, value))
    # Worst first; features without a PSI last, in schema order.
    return sorted(drifts, key=lambda d: (d.psi is None, -(d.psi or 0.0)))
