"""Live performance figures as data frames, from GET /monitoring/performance. The answer it reads:

    {"window": {"since": ts, "until": ts, "bucket_seconds": 86400}, "min_labels": 50,
     "models": [{"model_name": "logistic", "version": "v1", "threshold": 0.42,
                 "predictions": 1470, "labelled": 1470, "positives": 237, "positive_rate": 0.16,
                 "roc_auc": 0.86, "pr_auc": 0.6, "brier": 0.1, "precision": 0.5, "recall": 0.6, "f1": 0.55,
                 "enough_labels": true, "note": null,
                 "calibration": [{"bin_start": 0.0, "bin_end": 0.1, "count": 500,
                                  "mean_predicted": 0.05, "observed_rate": 0.04}, ...],
                 "over_time": [{"bucket": ts, "labelled": 30, "positive_rate": .., "roc_auc": ..,
                                "pr_auc": .., "brier": ..}, ...],
                 "offline_metrics": {"test": {"roc_auc": ...}, "cv": {"roc_auc": {"mean": ...}}}}]}

Pure functions: no I/O, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

WINDOWS = {"Last 24 hours": 1, "Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Last year": 365}
SCORES = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
}
OVER_TIME = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier score",
    "positive_rate": "Share who left",
}
# A time bucket with fewer labels than this swings on one employee: it is left out of the chart.
MIN_POINT_LABELS = 20


def version_key(entry: Mapping[str, Any]) -> str:
    return f"{entry['model_name']} · {entry['version']}"


def summary_frame(answer: Mapping[str, Any]) -> pd.DataFrame:
    """One row per model version: counts and live figures (None where not computable)."""
    rows = []
    for m in answer["models"]:
        rows.append(
            {
                "model": m["model_name"],
                "version": m["version"],
                "predictions": m["predictions"],
                "labelled": m["labelled"],
                "share who left": m["positive_rate"],
                **{label: m[key] for key, label in SCORES.items()},
                "enough labels": "yes" if m["enough_labels"] else "no",
            }
        )
    return pd.DataFrame(rows)


def over_time_frame(entry: Mapping[str, Any]) -> pd.DataFrame:
    """Long frame (bucket, figure, value, labelled) of one version's figures per time bucket, for the
    buckets with at least MIN_POINT_LABELS labelled predictions."""
    rows = [
        {"bucket": pd.Timestamp(p["bucket"]), "figure": label, "value": p[key], "labelled": p["labelled"]}
        for p in entry["over_time"]
        if p["labelled"] >= MIN_POINT_LABELS
        for key, label in OVER_TIME.items()
        if p[key] is not None
    ]
    return pd.DataFrame(rows, columns=["bucket", "figure", "value", "labelled"])


def calibration_frame(entry: Mapping[str, Any]) -> pd.DataFrame:
    """The calibration bins with labelled predictions in them."""
    frame = pd.DataFrame(
        entry["calibration"],
        columns=["bin_start", "bin_end", "count", "mean_predicted", "observed_rate"],
    )
    return frame[frame["count"] > 0].reset_index(drop=True)


def offline_vs_live(entry: Mapping[str, Any]) -> pd.DataFrame:
    """The version's registered figures (cross-validation mean, held-out test) beside the live ones; a
    version registered without them (a stand-in, a retrained one) has None there."""
    cv, test = entry["offline_metrics"].get("cv", {}), entry["offline_metrics"].get("test", {})
    rows = [
        {
            "figure": label,
            "live": entry[key],
            "offline (CV mean)": cv[key]["mean"] if cv else None,
            "offline (held-out test)": test[key] if test else None,
        }
        for key, label in SCORES.items()
        if key != "brier"
    ]
    return pd.DataFrame(rows)


def verdict(answer: Mapping[str, Any]) -> str | None:
    """One plain sentence when no version has enough labels to be judged; None when some has."""
    models = answer["models"]
    if not models:
        return "No prediction was answered in this window: there is nothing to measure."
    if any(m["enough_labels"] for m in models):
        return None
    labelled = sum(m["labelled"] for m in models)
    if labelled == 0:
        return (
            "No outcome has been posted for these predictions yet, so no model can be judged. "
            "Upload what really happened on the Batch page (Outcomes), or POST /outcomes."
        )
    return (
        f"Too few labels to judge any model: {labelled:,} labelled prediction(s) in this window, and a "
        f"version needs at least {answer['min_labels']} with both outcomes "
        "(some who left, some who stayed)."
    )


MISSING = "—"


def figure_text(value: Any) -> str:
    """A figure as the page shows it: '0.812', or '—' where it is not computable (never 'None', 'nan')."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return f"{float(value):.3f}"


def as_shown(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`frame` with its figure `columns` as text: three decimals, '—' where there is none."""
    return frame.assign(**{c: frame[c].map(figure_text) for c in columns if c in frame.columns})
