"""The promotion gate: a candidate against the incumbent on the same outer folds, by the Nadeau–Bengio
corrected resampled t-test (Nadeau and Bengio, Machine Learning 52, 2003).

"Better" means all of: mean ROC-AUC up by at least MIN_ROC_AUC_GAIN with corrected two-sided
p < ALPHA; PR-AUC down by no more than MAX_PR_AUC_LOSS; mean Brier score not higher (worse).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from model_store.evaluation import corrected_factor

MIN_ROC_AUC_GAIN = 0.01
ALPHA = 0.05
MAX_PR_AUC_LOSS = 0.01
RULE = (
    f"mean ROC-AUC up by at least {MIN_ROC_AUC_GAIN} with Nadeau–Bengio corrected two-sided p < {ALPHA}, "
    f"PR-AUC not down by more than {MAX_PR_AUC_LOSS}, Brier score not worse"
)


def corrected_t_test(
    candidate: Sequence[float], incumbent: Sequence[float], test_fraction: float
) -> dict[str, float]:
    """Paired per-fold differences (candidate − incumbent): mean, corrected t and two-sided p."""
    d = np.asarray(candidate, dtype=float) - np.asarray(incumbent, dtype=float)
    if d.shape != (len(candidate),) or len(d) < 2:
        raise ValueError("the gate needs the same two or more folds for both models")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:  # identical on every fold (or a constant shift): no noise to test against
        t = 0.0 if mean == 0.0 else float(np.sign(mean) * np.inf)
    else:
        t = mean / (sd * corrected_factor(len(d), test_fraction))
    p = float(2 * stats.t.sf(abs(t), len(d) - 1))
    return {"difference": mean, "t": float(t), "p": p}


def verdict(
    candidate: Mapping[str, Sequence[float]],
    incumbent: Mapping[str, Sequence[float]],
    test_fraction: float,
) -> dict[str, Any]:
    """The gate's verdict: `better` and, in `reasons`, every condition that failed, with the figures."""
    roc = corrected_t_test(candidate["roc_auc"], incumbent["roc_auc"], test_fraction)
    pr = corrected_t_test(candidate["pr_auc"], incumbent["pr_auc"], test_fraction)
    brier = corrected_t_test(candidate["brier"], incumbent["brier"], test_fraction)
    reasons = []
    if roc["difference"] < MIN_ROC_AUC_GAIN:
        reasons.append(f"ROC-AUC gain {roc['difference']:+.3f} is below {MIN_ROC_AUC_GAIN}")
    if roc["p"] >= ALPHA:
        reasons.append(f"ROC-AUC difference is not significant (corrected p = {roc['p']:.3f} ≥ {ALPHA})")
    if pr["difference"] < -MAX_PR_AUC_LOSS:
        reasons.append(f"PR-AUC falls by {-pr['difference']:.3f} (more than {MAX_PR_AUC_LOSS})")
    if brier["difference"] > 0:
        reasons.append(f"Brier score is worse by {brier['difference']:.4f}")
    return {"better": not reasons, "reasons": reasons, "roc_auc": roc, "pr_auc": pr, "brier": brier}


def describe(name: str, incumbent: str, v: Mapping[str, Any]) -> str:
    """One line: the verdict and its figures."""
    head = "BETTER than" if v["better"] else "not better than"
    roc, pr, brier = v["roc_auc"], v["pr_auc"], v["brier"]
    figures = (
        f"ROC-AUC {roc['difference']:+.3f} (p = {roc['p']:.3f}), PR-AUC {pr['difference']:+.3f}, "
        f"Brier {brier['difference']:+.4f}"
    )
    why = "" if v["better"] else ": " + "; ".join(v["reasons"])
    return f"{name} is {head} {incumbent}: {figures}{why}"
