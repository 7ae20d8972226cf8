"""GET /monitoring/performance: each model version measured against the outcomes posted for its answers."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from model_store.registered_metrics import with_cv
from service.monitoring_summary import bucket_seconds
from service.outcome_schemas import (
    CalibrationBin,
    Performance,
    PerformancePoint,
    PerformanceWindow,
    VersionPerformance,
)
from service.repository import performance as repo
from service.repository.performance import PerformanceWindow as Window
from service.services import Services

CALIBRATION_BINS = 10
MAX_POINTS = 60  # buckets of the over-time charts
FIGURES = ("predictions", "labelled", "positives", "positive_rate", "roc_auc", "pr_auc", "brier")
DECISIONS = ("precision", "recall", "f1")


def window_of(svc: Services, since: datetime | None, until: datetime | None, model: str | None) -> Window:
    """The asked window; until defaults to now, since to PERFORMANCE_WINDOW_DAYS before until."""
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=svc.settings.performance_window_days)
    return Window(since, until, model)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def note(row: dict[str, Any], min_labels: int) -> str | None:
    """Why the figures of one version cannot be judged yet, in plain words; None when they can."""
    labelled, positives = row["labelled"], row["positives"]
    if labelled == 0:
        return f"No outcome posted yet for its {_plural(row['predictions'], 'prediction')}: nothing to judge."
    if positives in (0, labelled):
        what = "stayed" if positives == 0 else "left"
        whom = "The one labelled employee" if labelled == 1 else f"All {labelled:,} labelled employees"
        return f"{whom} {what}: ROC-AUC and PR-AUC need both outcomes and are not computable."
    if labelled < min_labels:
        few = _plural(labelled, "labelled prediction")
        return f"Only {few}: too few to judge (at least {min_labels} needed)."
    return None


def shape(
    window: Window,
    bucket: int,
    min_labels: int,
    overall: list[dict[str, Any]],
    points: list[dict[str, Any]],
    bins: list[dict[str, Any]],
) -> Performance:
    """The response body from the three queries' rows (pure)."""
    series: dict[tuple[str, str], list[PerformancePoint]] = defaultdict(list)
    for row in points:
        series[row["model_name"], row["version"]].append(
            PerformancePoint(
                bucket=row["bucket"], **{k: row[k] for k in FIGURES if k not in ("predictions", "positives")}
            )
        )
    calibration: dict[tuple[str, str], list[CalibrationBin]] = defaultdict(list)
    for row in bins:
        key = row.pop("model_name"), row.pop("version")
        calibration[key].append(CalibrationBin(**row))
    versions = []
    for row in overall:
        key = row["model_name"], row["version"]
        why = note(row, min_labels)
        versions.append(
            VersionPerformance(
                model_name=row["model_name"],
                version=row["version"],
                threshold=row["threshold"],
                **{k: row[k] for k in (*FIGURES, *DECISIONS)},
                enough_labels=why is None,
                note=why,
                calibration=calibration[key],
                over_time=series[key],
                offline_metrics=with_cv(row["offline_metrics"]),
            )
        )
    return Performance(
        window=PerformanceWindow(since=window.since, until=window.until, bucket_seconds=bucket),
        min_labels=min_labels,
        models=versions,
    )


async def performance(svc: Services, window: Window) -> Performance:
    """Every model version that answered in the window, measured in the database."""
    span_minutes = math.ceil((window.until - window.since).total_seconds() / 60)
    bucket = bucket_seconds(span_minutes, MAX_POINTS)
    overall, points, bins = await repo.read_all(svc.pool, window, bucket, CALIBRATION_BINS)
    return shape(window, bucket, svc.settings.performance_min_labels, overall, points, bins)
