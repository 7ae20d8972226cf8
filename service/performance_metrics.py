"""The model_live_* gauges of /metrics: each model version's live figures over the recent window."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

from service.db import DATABASE_DOWN
from service.repository import performance as repo
from service.repository.performance import PerformanceWindow

log = logging.getLogger(__name__)

# The figures scan every answered prediction of the window: one read serves the scrapes of a minute.
REREAD_SECONDS = 60.0
GAUGES = {
    "labelled": "Answered predictions with an observed outcome (POST /outcomes).",
    "positive_rate": "Share of labelled predictions whose employee left.",
    "roc_auc": "ROC-AUC against the observed outcomes (absent unless both outcomes occur).",
    "pr_auc": "Average precision against the observed outcomes (absent unless both outcomes occur).",
    "brier": "Brier score: mean squared difference of probability and observed outcome.",
    "precision": "Precision of the version's decisions at its threshold.",
    "recall": "Recall of the version's decisions at its threshold.",
    "f1": "F1 of the version's decisions at its threshold.",
}


class LivePerformance(Collector):
    """Serves the last figures read; `refresh` rereads them at most once a REREAD_SECONDS."""

    def __init__(self, window_days: int) -> None:
        self.window_days = window_days
        self.rows: list[dict[str, Any]] = []
        self._read_at = float("-inf")

    async def refresh(self, pool: AsyncConnectionPool) -> None:
        if monotonic() - self._read_at < REREAD_SECONDS:
            return
        until = datetime.now(UTC)
        try:
            self.rows = await repo.by_version(
                pool, PerformanceWindow(until - timedelta(days=self.window_days), until)
            )
        except DATABASE_DOWN as exc:  # the gauges keep their last values; database_up says why
            log.warning("live performance gauges: database unavailable: %s", exc)
            return
        self._read_at = monotonic()

    def collect(self) -> Iterator[Metric]:
        window = f" Predictions of the last {self.window_days} days, per model name and version."
        for name, description in GAUGES.items():
            family = GaugeMetricFamily(
                f"model_live_{name}", description + window, labels=["model", "version"]
            )
            for row in self.rows:
                if row[name] is not None:
                    family.add_metric([row["model_name"], row["version"]], float(row[name]))
            yield family
