"""Metrics the manifest records, and the rule that picks a decision threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

METRICS = ("roc_auc", "pr_auc", "f1", "precision", "recall")
THRESHOLD_RULE = (
    "the probability that maximises F1 on the out-of-fold probabilities of 5-fold cross-validation "
    "on the training part (ties: the lowest such probability)"
)


def scores(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC-AUC and PR-AUC of the probabilities; F1, precision, recall of `proba >= threshold`."""
    predicted = (proba >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
    }


def summarise(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population) standard deviation of each metric over folds."""
    return {
        m: {"mean": float(np.mean([f[m] for f in per_fold])), "std": float(np.std([f[m] for f in per_fold]))}
        for m in METRICS
    }


def f1_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    """The threshold rule: the probability cut that maximises F1 (see THRESHOLD_RULE)."""
    precision, recall, thresholds = precision_recall_curve(y, proba)
    # The curve's last point (recall 0) has no threshold.
    p, r = precision[:-1], recall[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return float(thresholds[int(np.argmax(f1))])
