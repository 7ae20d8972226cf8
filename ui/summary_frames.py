"""Monitoring figures as data frames, from the API's summary or, failing that, from recent history.

Pure functions: no I/O, no Streamlit. The Monitoring page fetches, these shape, charts draw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ui.request_table import STATUSES, utc_times

PERCENTILES = (50, 90, 95, 99)
PROBABILITY_BINS = 20
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25

WINDOWS = {  # label → (minutes, bucket)
    "Last 15 minutes": (15, "30s"),
    "Last hour": (60, "1min"),
    "Last 6 hours": (360, "5min"),
    "Last 24 hours": (1440, "15min"),
    "Last 7 days": (10080, "2h"),
}


@dataclass(frozen=True)
class MonitoringData:
    source: str  # "api" (GET /monitoring/summary) or "history" (computed here)
    requests: int
    throughput: pd.DataFrame  # bucket (start, UTC), status, count — requests submitted in the bucket
    latency: pd.DataFrame  # percentile ("p50"...), ms
    status_counts: pd.DataFrame  # status, count
    probabilities: pd.DataFrame  # model_name, bin_start, bin_end, count
    listeners: pd.DataFrame | None  # listener_id, hostname, pid, mode, last_seen_at, processed, failed, alive
    drift: pd.DataFrame | None  # feature, psi, band — worst first
    truncated: bool = False
    alive_from_metrics: int | None = None  # prediction_listeners_alive from /metrics, when no heartbeat list
    bucket: pd.Timedelta | None = None  # throughput bucket width the API chose (None: the page's own)

    @property
    def completed(self) -> int:
        return _count(self.status_counts, "completed")

    @property
    def failed(self) -> int:
        return _count(self.status_counts, "failed")

    @property
    def listeners_alive(self) -> int | None:
        if self.listeners is None:
            return self.alive_from_metrics
        return int(self.listeners["alive"].sum()) if not self.listeners.empty else 0

    def latency_ms(self, percentile: str) -> float | None:
        row = self.latency[self.latency["percentile"] == percentile]
        return None if row.empty or pd.isna(row["ms"].iloc[0]) else float(row["ms"].iloc[0])


def _count(frame: pd.DataFrame, status: str) -> int:
    row = frame[frame["status"] == status]
    return int(row["count"].sum()) if not row.empty else 0


# -- from history ------------------------------------------------------------------------------


def from_history(frame: pd.DataFrame, bucket: str, truncated: bool = False) -> MonitoringData:
    """What recent history alone can tell: throughput, latency, statuses, probabilities."""
    return MonitoringData(
        source="history",
        requests=len(frame),
        throughput=throughput(frame, bucket),
        latency=latency_percentiles(frame["latency_ms"]),
        status_counts=status_counts(frame["status"]),
        probabilities=probability_histogram(frame),
        listeners=None,
        drift=None,
        truncated=truncated,
    )


def throughput(frame: pd.DataFrame, bucket: str) -> pd.DataFrame:
    """Requests submitted per time bucket, split by where each stands now (completed, failed, ...)."""
    submitted = frame.dropna(subset=["created_at"])
    if submitted.empty:
        return pd.DataFrame(columns=["bucket", "status", "count"])
    counts = (
        submitted.assign(bucket=submitted["created_at"].dt.floor(bucket))
        .groupby(["bucket", "status"])
        .size()
        .reset_index(name="count")
    )
    return counts.astype({"count": int})


def latency_percentiles(latency_ms: pd.Series) -> pd.DataFrame:
    values = latency_ms.dropna().to_numpy(dtype=float)
    ms = [float(np.percentile(values, p)) if values.size else np.nan for p in PERCENTILES]
    return pd.DataFrame({"percentile": [f"p{p}" for p in PERCENTILES], "ms": ms})


def status_counts(statuses: pd.Series) -> pd.DataFrame:
    counts = statuses.value_counts()
    return pd.DataFrame({"status": list(STATUSES), "count": [int(counts.get(s, 0)) for s in STATUSES]})


def probability_histogram(frame: pd.DataFrame, bins: int = PROBABILITY_BINS) -> pd.DataFrame:
    edges = np.linspace(0.0, 1.0, bins + 1)
    parts = []
    for model, group in frame.dropna(subset=["probability"]).groupby("model_name"):
        counts, _ = np.histogram(group["probability"].clip(0, 1), bins=edges)
        parts.append(
            pd.DataFrame(
                {"model_name": model, "bin_start": edges[:-1], "bin_end": edges[1:], "count": counts}
            )
        )
    if not parts:
        return pd.DataFrame(columns=["model_name", "bin_start", "bin_end", "count"])
    return pd.concat(parts, ignore_index=True)


# -- from the API's summary ----------------------------------------------------------------------


def from_summary(summary: Mapping[str, Any]) -> MonitoringData:
    """Read GET /monitoring/summary (its shape: see the docstring of ui/views/monitoring.py)."""
    throughput_rows = [
        {"bucket": row["bucket"], "status": status, "count": int(row.get(status, 0))}
        for row in summary.get("throughput", [])
        for status in STATUSES
        if row.get(status)
    ]
    tp = pd.DataFrame(throughput_rows, columns=["bucket", "status", "count"])
    tp["bucket"] = utc_times(tp["bucket"])
    lat = summary.get("latency_ms") or {}
    latency = pd.DataFrame(
        {"percentile": [f"p{p}" for p in PERCENTILES], "ms": [lat.get(f"p{p}") for p in PERCENTILES]}
    )
    latency["ms"] = pd.to_numeric(latency["ms"], errors="coerce")
    counts = summary.get("status_counts") or {}
    statuses = pd.DataFrame({"status": list(STATUSES), "count": [int(counts.get(s, 0)) for s in STATUSES]})
    probs = pd.DataFrame(
        summary.get("probability_histogram", []), columns=["model_name", "bin_start", "bin_end", "count"]
    )
    return MonitoringData(
        source="api",
        requests=int(summary.get("requests", statuses["count"].sum())),
        throughput=tp,
        latency=latency,
        status_counts=statuses,
        probabilities=probs,
        listeners=listeners_frame(summary.get("listeners")),
        drift=drift_frame(summary.get("drift")),
        bucket=_bucket(summary.get("window")),
    )


def _bucket(window: Mapping[str, Any] | None) -> pd.Timedelta | None:
    seconds = (window or {}).get("bucket_seconds")
    return pd.Timedelta(seconds=int(seconds)) if seconds else None


def bucket_label(bucket: pd.Timedelta) -> str:
    """'minute', '30 s', '2 h': how a bucket width reads in a caption."""
    seconds = int(bucket.total_seconds())
    if seconds == 60:
        return "minute"
    if seconds == 3600:
        return "hour"
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def listeners_frame(listeners: Sequence[Mapping[str, Any]] | None) -> pd.DataFrame | None:
    if listeners is None:
        return None
    columns = ["listener_id", "hostname", "pid", "mode", "started_at", "last_seen_at"]
    columns += ["processed", "failed", "alive"]
    frame = pd.DataFrame(list(listeners), columns=columns)
    frame["alive"] = frame["alive"].fillna(False).astype(bool)
    frame["last_seen_at"] = utc_times(frame["last_seen_at"])
    frame["started_at"] = utc_times(frame["started_at"])
    return frame.sort_values(["alive", "last_seen_at"], ascending=[False, False], ignore_index=True)


def drift_frame(drift: Mapping[str, Any] | None) -> pd.DataFrame | None:
    if not drift:
        return None
    frame = pd.DataFrame(drift.get("features", []), columns=["name", "psi"]).rename(
        columns={"name": "feature"}
    )
    frame["psi"] = pd.to_numeric(frame["psi"], errors="coerce")
    frame = frame.dropna(subset=["psi"])  # no PSI yet: too few recent requests to judge by
    frame["band"] = frame["psi"].map(psi_band)
    return frame.sort_values("psi", ascending=False, ignore_index=True)


def psi_band(value: float) -> str:
    """The usual reading of a population stability index."""
    if pd.isna(value):
        return "unknown"
    if value >= PSI_MAJOR:
        return "major shift"
    if value >= PSI_MODERATE:
        return "moderate shift"
    return "stable"


# -- from /metrics -------------------------------------------------------------------------------


def prometheus_value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format (labels must match exactly those given)."""
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', label_text))
        if found == labels:
            try:
                return float(value)
            except ValueError:
                return None
    return None
