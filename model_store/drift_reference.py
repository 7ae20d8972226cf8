"""A version's drift reference: the distribution of each feature over the rows the version was fitted on,
computed at training time and stored with it (its manifest entry, model_versions.reference); and the
population stability index (PSI) of recent requests against it.

Numbers are cut into quantile bins of the training rows (ties merge bins, so integer features with
few values get fewer bins); categories are compared share by share. Shares are floored before the
logarithm, so an empty bin costs a bounded amount instead of infinity.

numpy only: the API measures drift with this module, from the reference it reads in the database, and
imports no pandas (a training frame is only indexed by column name here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from model_store.features import FEATURES, Feature

QUANTILE_BINS = 10
SHARE_FLOOR = 1e-4
MIN_SAMPLE = 50  # below this, PSI is mostly sampling noise: reported as unknown
REFERENCE_NAME = "training data"
NO_REFERENCE = "none"
FORMAT = 1  # of the stored document; a reader refuses another


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

    def as_json(self) -> dict[str, Any]:
        kind = {"categories": list(self.categories)} if self.is_category else {"edges": list(self.edges)}
        return {"name": self.name, **kind, "shares": list(self.shares)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FeatureReference:
        return cls(
            name=str(doc["name"]),
            shares=tuple(float(s) for s in doc["shares"]),
            edges=tuple(float(e) for e in doc.get("edges", ())),
            categories=tuple(str(c) for c in doc.get("categories", ())),
        )


@dataclass(frozen=True)
class DriftReference:
    """Every feature's reference, and the fingerprint (model_store.data.fingerprint) of the rows it was
    computed from: the same rows, and the same fingerprint, as the version's training_data_sha256."""

    features: tuple[FeatureReference, ...]
    training_data_sha256: str

    def as_json(self) -> dict[str, Any]:
        """The stored document (manifest entry `reference`, model_versions.reference)."""
        return {
            "format": FORMAT,
            "training_data_sha256": self.training_data_sha256,
            "quantile_bins": QUANTILE_BINS,
            "features": [f.as_json() for f in self.features],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DriftReference:
        if doc.get("format") != FORMAT:
            raise ValueError(f"drift reference format {doc.get('format')!r}, this code reads {FORMAT}")
        features = tuple(FeatureReference.from_json(f) for f in doc["features"])
        return cls(features, str(doc["training_data_sha256"]))


class TrainingRows(Protocol):
    """What this module reads of model_store.data.TrainingData (not imported here: it needs pandas)."""

    @property
    def X(self) -> Any: ...  # the feature frame, one column per feature

    @property
    def sha256(self) -> str: ...


def _plain(values: Any) -> list[Any]:
    """A training column (a pandas Series, an array, a list) as Python values (ints stay ints)."""
    return np.asarray(values).tolist()


def feature_reference(feature: Feature, values: Any, bins: int = QUANTILE_BINS) -> FeatureReference:
    """The reference of one feature from its training column."""
    plain = _plain(values)
    if feature.type == "category":
        ref = FeatureReference(feature.name, (), categories=feature.categories)
    else:
        cuts = np.quantile(np.asarray(plain, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
        ref = FeatureReference(feature.name, (), edges=tuple(float(e) for e in np.unique(cuts)))
    counts = ref.counts(plain)
    return FeatureReference(ref.name, tuple((counts / len(plain)).tolist()), ref.edges, ref.categories)


def reference_from(
    X: Mapping[str, Any], schema: Sequence[Feature] = FEATURES
) -> tuple[FeatureReference, ...]:
    """Every feature's reference, computed from a training frame with one column per feature."""
    return tuple(feature_reference(f, X[f.name]) for f in schema)


def drift_reference(data: TrainingRows, schema: Sequence[Feature] = FEATURES) -> DriftReference:
    """The reference of the rows a version is fitted on, tied to their fingerprint."""
    return DriftReference(reference_from(data.X, schema), data.sha256)


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
    psi: float | None  # None: fewer than MIN_SAMPLE values to judge by, or no reference


def feature_drift(
    rows: Sequence[Mapping[str, Any]],
    reference: Sequence[FeatureReference],
    min_sample: int = MIN_SAMPLE,
) -> list[FeatureDrift]:
    """PSI of each feature of `rows` against `reference` (a version's training rows), worst first."""
    drifts = []
    for ref in reference:
        counts = ref.counts(row.get(ref.name) for row in rows)
        total = int(counts.sum())
        value = psi(ref.shares, counts / total) if total >= min_sample else None
        drifts.append(FeatureDrift(ref.name, value))
    # Worst first; features without a PSI last, in schema order.
    return sorted(drifts, key=lambda d: (d.psi is None, -(d.psi or 0.0)))


def unmeasured(schema: Sequence[Feature] = FEATURES) -> list[FeatureDrift]:
    """Every feature without a PSI, in schema order: what a version without a stored reference gives."""
    return [FeatureDrift(f.name, None) for f in schema]
