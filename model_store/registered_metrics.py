"""How a version's registered metrics read: every version gets a `cv` entry shaped as training writes it.

Training registers `cv` as {metric: {"mean", "std", "low", "high"}} over repeated outer folds; a version
retrained from labelled traffic (model_store/retrain.py) registers its stratified out-of-fold scores as
`cv_oof`, one figure per metric. The dashboard and API clients read `cv[metric]["mean"]`, so they showed
those versions' offline figures as missing. Reading the rows through here keeps already registered ones
right without rewriting them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def with_cv(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """`metrics` plus a `cv` entry of {metric: {"mean": score}} made from `cv_oof` when it has no `cv`."""
    oof = metrics.get("cv_oof")
    if "cv" in metrics or not isinstance(oof, Mapping):
        return dict(metrics)
    return {**metrics, "cv": {k: {"mean": v} for k, v in oof.items()}}
