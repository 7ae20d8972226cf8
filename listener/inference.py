"""Turn a claimed batch into outcomes: one predict per model group; a failing row never sinks the rest."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import sklearn

from listener.availability import ModelState
from listener.connection import CONNECTION_LOST
from listener.outcomes import BatchOutcome, Claim

MAX_ERROR_CHARS = 2000


class ModelHandle(Protocol):
    """What the listener uses of `model_store.registry.ModelHandle`."""

    name: str
    version: str
    sha256: str

    def predict(self, features: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]: ...


class ModelRegistry(Protocol):
    """What the listener uses of `model_store.registry` (open_registry's result)."""

    def get(self, name: str | None) -> ModelHandle: ...

    def names(self) -> list[str]: ...

    def default_name(self) -> str: ...

    def refresh(self) -> None: ...

    def availability(self) -> list[ModelState]: ...

    def retry_due(self) -> list[str]: ...


def warm_up(registry: ModelRegistry) -> dict[str, str]:
    """Load every deployed model now rather than on its first request; returns {name: error} of those
    that failed (their requests will fail with the same reason, one by one, when they come)."""
    try:
        names = registry.names()
    except CONNECTION_LOST:
        raise
    except Exception as exc:
        return {"*": describe(exc)}
    errors: dict[str, str] = {}
    for name in names:
        try:
            registry.get(name)
        except CONNECTION_LOST:
            raise
        except Exception as exc:
            errors[name] = describe(exc)
    return errors


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def public_reason(exc: BaseException) -> str:
    """The reason as the request's client reads it: a model error's `public` text names no server
    path (the listener's log has the full message)."""
    public = getattr(exc, "public", None)
    return describe(exc) if public is None else f"{public}; the listener tries again by itself"


def group_by_model(claims: Sequence[Claim]) -> dict[str, list[Claim]]:
    groups: dict[str, list[Claim]] = {}
    for claim in claims:
        groups.setdefault(claim.model_name, []).append(claim)
    return groups


def infer_batch(
    registry: ModelRegistry, claims: Sequence[Claim], stop_requested: Callable[[], bool]
) -> BatchOutcome:
    """Predict every group of `claims`; groups not started when a stop is requested are released.

    Connection-loss errors from the registry propagate (the loop reconnects and retries the rows);
    any other error fails only the rows it concerns."""
    outcome = BatchOutcome()
    for model_name, group in group_by_model(claims).items():
        if stop_requested():
            outcome.add_released(c.id for c in group)
            continue
        infer_group(registry, model_name, group, outcome)
    return outcome


def infer_group(registry: ModelRegistry, model_name: str, group: list[Claim], outcome: BatchOutcome) -> None:
    try:
        handle = registry.get(model_name)
    except CONNECTION_LOST:
        raise
    except Exception as exc:  # unknown model, artifact refused: every row of the group fails with why
        if isinstance(exc.__cause__, CONNECTION_LOST):
            # The registry could not read the deployments: the database, not the request, is at fault.
            raise exc.__cause__ from exc
        error = f"model {model_name!r} could not be loaded: {public_reason(exc)}"
        outcome.add_failures((c.id for c in group), error)
        return
    predict_isolating_failures(handle, group, outcome)


def predict_isolating_failures(handle: ModelHandle, group: list[Claim], outcome: BatchOutcome) -> None:
    """One vectorised predict for the group; if it raises, split in halves and retry, down to the single
    poison row, so k bad rows cost O(k log n) predicts and every good neighbour still gets its result."""
    try:
        predictions, probabilities = predict(handle, group)
    except CONNECTION_LOST:
        raise
    except Exception as exc:
        if len(group) == 1:
            outcome.add_failures([group[0].id], f"inference failed: {describe(exc)}")
            return
        middle = len(group) // 2
        predict_isolating_failures(handle, group[:middle], outcome)
        predict_isolating_failures(handle, group[middle:], outcome)
        return
    outcome.add_results([c.id for c in group], predictions, probabilities, handle.version, handle.sha256)


def predict(handle: ModelHandle, group: Sequence[Claim]) -> tuple[list[int], list[float]]:
    """The model's answer for the group, checked so that a bad answer fails here, not in the database."""
    # Features were validated by the API and the model's own pipeline checks them: skip sklearn's
    # repeated finiteness and parameter checks (≈ 13 % of a logistic predict).
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        classes, probabilities = handle.predict([c.features for c in group])
    classes = np.asarray(classes)
    probabilities = np.asarray(probabilities, dtype=float)
    if classes.shape != (len(group),) or probabilities.shape != (len(group),):
        raise ValueError(
            f"model {handle.name!r} returned {classes.shape} classes and {probabilities.shape} "
            f"probabilities for {len(group)} rows"
        )
    # (classes == 0) | (classes == 1) rather than np.isin: a tenth of the cost on a few rows.
    bad = (
        ~np.isfinite(probabilities)
        | (probabilities < 0)
        | (probabilities > 1)
        | ((classes != 0) & (classes != 1))
    )
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"model {handle.name!r} returned class {classes[i].item()!r} "
            f"with probability {probabilities[i].item()!r}"
        )
    return classes.astype(int).tolist(), probabilities.tolist()
