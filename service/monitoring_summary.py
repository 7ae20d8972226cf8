"""GET /monitoring/summary: one time window's traffic, latency, outcomes, listeners and feature drift."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

from model_store.drift_reference import (
    NO_REFERENCE,
    REFERENCE_NAME,
    DriftReference,
    FeatureDrift,
    feature_drift,
    unmeasured,
)
from service.repository.monitoring import (
    StoredReference,
    Window,
    WindowFigures,
    read_drift_reference,
    read_window,
)
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
    figures, stored = await asyncio.gather(
        read_window(
            svc.pool,
            window,
            bins=PROBABILITY_BINS,
            alive_seconds=svc.settings.api_listener_alive_seconds,
            sample_size=DRIFT_SAMPLE,
        ),
        read_drift_reference(svc.pool),
    )
    reference, missing = usable_reference(stored)
    if reference is None:
        drift = unmeasured()
    else:  # numpy work: off the event loop
        drift = await asyncio.to_thread(feature_drift, figures.sample, reference.features)
    return shape(window, figures, drift_summary(stored, reference, missing, len(figures.sample), drift))


def usable_reference(stored: StoredReference | None) -> tuple[DriftReference | None, str | None]:
    """The default version's reference, or None and why there is none."""
    if stored is None:
        return None, "no model is the default: nothing to compare recent requests with"
    if stored.reference is None:
        return None, (
            f"{stored.model_name} {stored.version} was registered without a drift reference (before schema "
            "018, trained on data other than the packaged set): retrain it to measure drift"
        )
    try:
        return DriftReference.from_json(stored.reference), None
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"the drift reference of {stored.model_name} {stored.version} cannot be read: {exc}"


def drift_summary(
    stored: StoredReference | None,
    reference: DriftReference | None,
    missing: str | None,
    sample_size: int,
    drift: list[FeatureDrift],
) -> DriftSummary:
    return DriftSummary(
        reference=NO_REFERENCE if reference is None else REFERENCE_NAME,
        model_name=stored.model_name if stored else None,
        version=stored.version if stored else None,
        training_rows=stored.training_rows if stored else None,
        training_data_sha256=stored.training_data_sha256 if stored else None,
        missing=missing,
        sample_size=sample_size,
        features=[FeatureDriftOut(name=d.name, psi=d.psi) for d in drift],
    )


def shape(window: Window, figures: WindowFigures, drift: DriftSummary) -> MonitoringSummary:
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
        drift=drift,
    )
