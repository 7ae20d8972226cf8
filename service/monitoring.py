"""GET /monitoring/summary: one time window's traffic, latency, outcomes, listeners and feature drift."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

from model_store.reference import REFERENCE_NAME, FeatureDrift, feature_drift
from service.repository.monitoring import Window, WindowFigures, read_window
from service.schemas import (
    STATUSES,
    DriftSummary,
    FeatureDriftOut,
    LatencySummary,
    ListenerStatus,
    MonitoringSummary,
    MonitoringWindow,
    ProbabilityBin,
    ThroughputBucket,
)
from service.services import Services

# Round bucket widths, in seconds; the window gets the smallest that keeps the chart readable.
BUCKET_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_BUCKETS = 120
PROBABILITY_BINS = 20
DRIFT_SAMPLE = 1000
PERCENTILES = ("p50", "p90", "p95", "p99")  # the order of the monitoring_latency query's array


def bucket_seconds(window_minutes: int, max_buckets: int = MAX_BUCKETS) -> int:
    """The smallest round width cutting the window into at most `max_buckets` aligned buckets
    (a window not starting on a boundary touches one bucket more than span / width)."""
    span = window_minutes * 60
    for seconds in BUCKET_WIDTHS:
        if math.ceil(span / seconds) + 1 <= max_buckets:
            return seconds
    return BUCKET_WIDTHS[-1]


def window_ending(until: datetime, window_minutes: int) -> Window:
    return Window(until - timedelta(minutes=window_minutes), until, bucket_seconds(window_minutes))


async def summary(svc: Services, window_minutes: int) -> MonitoringSummary:
    """The last `window_minutes` minutes, up to now."""
    window = window_ending(datetime.now(UTC), window_minutes)
    figures = await read_window(
        svc.pool,
        window,
        bins=PROBABILITY_BINS,
        alive_seconds=svc.settings.api_listener_alive_seconds,
        sample_size=DRIFT_SAMPLE,
    )
    # numpy work (and, the first time, reading the training data): off the event loop.
    drift = await asyncio.to_thread(feature_drift, figures.sample)
    return shape(window, figures, drift)


def shape(window: Window, figures: WindowFigures, drift: list[FeatureDrift]) -> MonitoringSummary:
    """The response body from the window's figures (pure)."""
    throughput = [ThroughputBucket(**row) for row in figures.throughput]
    counts = {status: sum(getattr(b, status) for b in throughput) for status in STATUSES}
    percentiles = figures.latency["percentiles"] or [None] * len(PERCENTILES)
    return MonitoringSummary(
        window=MonitoringWindow(since=window.since, until=window.until, bucket_seconds=window.bucket_seconds),
        requests=sum(counts.values()),
        status_counts=counts,
        throughput=throughput,
        latency_ms=LatencySummary(
            count=figures.latency["count"],
            max=figures.latency["max"],
            **dict(zip(PERCENTILES, percentiles, strict=True)),
        ),
        probability_histogram=[ProbabilityBin(**row) for row in figures.histogram],
        listeners=[ListenerStatus(**row) for row in figures.listeners],
        drift=DriftSummary(
            reference=REFERENCE_NAME,
            sample_size=len(figures.sample),
            features=[FeatureDriftOut(name=d.name, psi=d.psi) for d in drift],
        ),
    )
