"""The data that flows through one round: claimed rows in, a batch outcome out (no I/O here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Claim:
    """One prediction_requests row this listener holds under a lease."""

    id: int
    model_name: str
    features: dict[str, Any]


@dataclass
class BatchOutcome:
    """What to record for a claimed batch, as the parallel arrays `record_outcomes` unnests."""

    result_ids: list[int] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    model_sha256s: list[str] = field(default_factory=list)
    failed_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    released_ids: list[int] = field(default_factory=list)

    def add_results(
        self,
        ids: Sequence[int],
        predictions: Sequence[int],
        probabilities: Sequence[float],
        version: str,
        sha256: str,
    ) -> None:
        self.result_ids.extend(ids)
        self.predictions.extend(predictions)
        self.probabilities.extend(probabilities)
        self.model_versions.extend([version] * len(ids))
        self.model_sha256s.extend([sha256] * len(ids))

    def add_failures(self, ids: Iterable[int], error: str) -> None:
        for request_id in ids:
            self.failed_ids.append(request_id)
            self.errors.append(error)

    def add_released(self, ids: Iterable[int]) -> None:
        self.released_ids.extend(ids)

    def params(self, listener_id: str) -> dict[str, Any]:
        # The result arrays as PostgreSQL array literals built here in one join each: psycopg's list
        # adapter walks every element in Python, the largest cost of recording a batch.
        return {
            "listener_id": listener_id,
            "result_ids": int_array(self.result_ids),
            "predictions": int_array(self.predictions),
            "probabilities": float_array(self.probabilities),
            "model_versions": text_array(self.model_versions),
            "model_sha256s": text_array(self.model_sha256s),
            "failed_ids": self.failed_ids,
            "errors": self.errors,
            "released_ids": self.released_ids,
        }


def int_array(values: Sequence[int]) -> str:
    """A PostgreSQL array literal of integers (numpy's too)."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


def float_array(values: Sequence[float]) -> str:
    """A PostgreSQL array literal of floats: repr round-trips a float8 exactly ('nan' and 'inf' too,
    which the results' CHECK then refuses as before)."""
    return "{" + ",".join(map(repr, map(float, values))) + "}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: Sequence[str]) -> str:
    """A PostgreSQL array literal of strings, each quoted (so commas, braces, quotes and backslashes
    are data); a run of equal values (one model's version) is quoted once."""
    parts: list[str] = []
    last, quoted = None, ""
    for value in values:
        if value != last:
            last, quoted = value, _quoted(value)
        parts.append(quoted)
    return "{" + ",".join(parts) + "}"
