"""Metrics the manifest records, their intervals over repeated CV, and the rule that picks a threshold."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

METRICS = ("roc_auc", "pr_auc", "brier", "f1", "precision", "recall")
LOWER_IS_BETTER = frozenset({"brier", "log_loss"})
THRESHOLD_RULE = (
    "the probability that maximises F1 (ties: the lowest such probability) on probabilities the model "
    "gives training rows it did not fit: out-of-fold ones of an inner 3-fold stratified cross-validation "
    "(logistic, boosting), out-of-bag votes (forests); in the evaluation, chosen again inside every "
    "outer training fold"
)
INTERVAL_RULE = (
    "mean ± t(0.975, J − 1) × sd × √(1/J + n_test/n_train) over the J outer folds: the Nadeau–Bengio "
    "correction for overlapping training sets (a plain sd/√J interval would be far too narrow)"
)
BOOTSTRAP_SAMPLES = 200


def scores(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC-AUC, PR-AUC and Brier score of the probabilities; F1, precision, recall of `proba >= threshold`."""
    predicted = (proba >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "brier": float(brier_score_loss(y, proba)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
    }


def tuning_score(metric: str, y: np.ndarray, proba: np.ndarray) -> float:
    """The score a grid is tuned by, higher is better (log loss and Brier negated)."""
    if metric == "log_loss":
        return -float(log_loss(y, proba, labels=[0, 1]))
    value = scores(y, proba, 0.5)[metric]
    return -value if metric in LOWER_IS_BETTER else value


def corrected_factor(n_folds: int, test_fraction: float) -> float:
    """√(1/J + n_test/n_train): Nadeau and Bengio's variance correction for J resampled folds."""
    return math.sqrt(1 / n_folds + test_fraction / (1 - test_fraction))


def interval(values: Sequence[float], test_fraction: float) -> dict[str, float]:
    """Mean, sample sd and the corrected 95% interval of one metric over outer folds (INTERVAL_RULE)."""
    a = np.asarray(values, dtype=float)
    mean, sd = float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0
    half = float(stats.t.ppf(0.975, len(a) - 1)) * sd * corrected_factor(len(a), test_fraction)
    return {"mean": mean, "std": sd, "low": mean - half, "high": mean + half}


def summarise(per_fold: Mapping[str, Sequence[float]], test_fraction: float) -> dict[str, dict[str, float]]:
    """Every metric's mean, sd and 95% interval over the outer folds."""
    return {m: interval(per_fold[m], test_fraction) for m in METRICS}


def bootstrap_se(y: np.ndarray, proba: np.ndarray, threshold: float, seed: int) -> dict[str, float]:
    """Standard error of each metric on one fixed test set, by a seeded stratified bootstrap."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    draws: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(BOOTSTRAP_SAMPLES):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        for m, v in scores(y[idx], proba[idx], threshold).items():
            draws[m].append(v)
    return {m: float(np.std(v, ddof=1)) for m, v in draws.items()}


def f1_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    """The threshold rule: the probability cut that maximises F1 (see THRESHOLD_RULE)."""
    precision, recall, thresholds = precision_recall_curve(y, proba)
    # The curve's last point (recall 0) has no threshold.
    p, r = precision[:-1], recall[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return float(thresholds[int(np.argmax(f1))])
