"""The API's monitoring summary (GET /monitoring/summary) as data frames.

Pure functions: no I/O, no Streamlit. The Monitoring page fetches, these shape, charts draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ui.request_table import STATUSES, utc_times

PERCENTILES = (50, 90, 95, 99)
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25

WINDOWS = {  # label → minutes (the API picks the throughput buckets' width for each)
    "Last 15 minutes": 15,
    "Last hour": 60,
    "Last 6 hours": 360,
    "Last 24 hours": 1440,
    "Last 7 days": 10080,
}


@dataclass(frozen=True)
class MonitoringData:
    requests: int
    throughput: pd.DataFrame  # bucket (start, UTC), status, count — requests submitted in the bucket
    latency: pd.DataFrame  # percentile ("p50"...), ms
    status_counts: pd.DataFrame  # status, count
    probabilities: pd.DataFrame  # model_name, bin_start, bin_end, count
    listeners: pd.DataFrame  # listener_id, hostname, pid, mode, last_seen_at, processed, failed, alive
    drift: pd.DataFrame  # feature, psi, band — worst first
    drift_missing: str | None  # why the API has no reference to measure drift against (None: it has one)
    bucket: pd.Timedelta  # the throughput buckets' width
    since: pd.Timestamp  # the window (UTC): requests submitted at or after `since`, before `until`
    until: pd.Timestamp

    @property
    def completed(self) -> int:
        return _count(self.status_counts, "completed")

    @property
    def failed(self) -> int:
        return _count(self.status_counts, "failed")

    @property
    def listeners_alive(self) -> int:
        return int(self.listeners["alive"].sum())

    def latency_ms(self, percentile: str) -> float | None:
        row = self.latency[self.latency["percentile"] == percentile]
        return None if row.empty or pd.isna(row["ms"].iloc[0]) else float(row["ms"].iloc[0])


def _count(frame: pd.DataFrame, status: str) -> int:
    row = frame[frame["status"] == status]
    return int(row["count"].sum()) if not row.empty else 0


def from_summary(summary: Mapping[str, Any]) -> MonitoringData:
    """Read GET /monitoring/summary (its shape: see the docstring of ui/views/monitoring.py)."""
    throughput_rows = [
        {"bucket": row["bucket"], "status": status, "count": int(row[status])}
        for row in summary["throughput"]
        for status in STATUSES
        if row[status]
    ]
    tp = pd.DataFrame(throughput_rows, columns=["bucket", "status", "count"])
    tp["bucket"] = utc_times(tp["bucket"])
    lat = summary["latency_ms"]
    latency = pd.DataFrame(
        {"percentile": [f"p{p}" for p in PERCENTILES], "ms": [lat[f"p{p}"] for p in PERCENTILES]}
    )
    latency["ms"] = pd.to_numeric(latency["ms"])  # a percentile of no answer is null: NaN here
    counts = summary["status_counts"]
    statuses = pd.DataFrame({"status": list(STATUSES), "count": [int(counts[s]) for s in STATUSES]})
    probs = pd.DataFrame(
        summary["probability_histogram"], columns=["model_name", "bin_start", "bin_end", "count"]
    )
    window = summary["window"]
    return MonitoringData(
        requests=int(summary["requests"]),
        throughput=tp,
        latency=latency,
        status_counts=statuses,
        probabilities=probs,
        listeners=listeners_frame(summary["listeners"]),
        drift=drift_frame(summary["drift"]),
        drift_missing=summary["drift"]["missing"],
        bucket=pd.Timedelta(seconds=int(window["bucket_seconds"])),
        since=pd.to_datetime(window["since"], utc=True),
        until=pd.to_datetime(window["until"], utc=True),
    )


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


def listeners_frame(listeners: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per listener, the live ones first, then the most recently seen."""
    columns = ["listener_id", "hostname", "pid", "mode", "started_at", "last_seen_at"]
    columns += ["processed", "failed", "alive"]
    frame = pd.DataFrame(list(listeners), columns=columns).astype({"alive": bool})
    frame["last_seen_at"] = utc_times(frame["last_seen_at"])
    frame["started_at"] = utc_times(frame["started_at"])
    return frame.sort_values(["alive", "last_seen_at"], ascending=[False, False], ignore_index=True)


def drift_frame(drift: Mapping[str, Any]) -> pd.DataFrame:
    """The features with a population stability index, worst first, each with its band."""
    frame = pd.DataFrame(drift["features"], columns=["name", "psi"]).rename(columns={"name": "feature"})
    frame["psi"] = pd.to_numeric(frame["psi"])
    frame = frame.dropna(subset=["psi"])  # no PSI yet: too few recent requests to judge by
    frame["band"] = frame["psi"].map(psi_band)
    return frame.sort_values("psi", ascending=False, ignore_index=True)


def psi_band(value: float) -> str:
    """The usual reading of a population stability index."""
    if value >= PSI_MAJOR:
        return "major shift"
    if value >= PSI_MODERATE:
        return "moderate shift"
    return "stable"
