"""Prometheus metrics: HTTP counts and latencies per route template, plus numbers read from the rows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from time import perf_counter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.db import DATABASE_DOWN
from service.repository import metrics as repo
from service.repository.metrics import LatencyBatch

log = logging.getLogger(__name__)

HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RESULT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)
# Results younger than this are left for the next scrape (a result committed late keeps a smaller id).
SETTLE_SECONDS = 2.0


class ResultLatency(Collector):
    """Submit-to-result latency histogram, fed incrementally from prediction_results rows."""

    def __init__(self) -> None:
        self.counts = [0] * (len(RESULT_BUCKETS) + 1)  # width_bucket index -> count
        self.seconds = 0.0
        self.last_id = 0

    def add(self, batch: LatencyBatch) -> None:
        for bucket, count in batch.counts.items():
            self.counts[bucket] += count
        self.seconds += batch.seconds
        if batch.last_id is not None:
            self.last_id = max(self.last_id, batch.last_id)

    def collect(self) -> Iterator[Metric]:
        cumulative, buckets = 0, []
        # width_bucket puts v < bound[0] in 0 and bound[i-1] <= v < bound[i] in i: so index i <= bound[i].
        for bound, count in zip((*map(str, RESULT_BUCKETS), "+Inf"), self.counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "prediction_result_latency_seconds",
            "Time from a request's submission (created_at) to its result row (created_at).",
            buckets=buckets,
            sum_value=self.seconds,
        )


class ApiMetrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r
        )
        self.http_seconds = Histogram(
            "http_request_duration_seconds",
            "Time to answer, per route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.submissions = Counter(
            "prediction_submissions", "Predictions submitted through this process.", ["model"], registry=r
        )
        self.queue_depth = Gauge("prediction_queue_depth", "Requests by status.", ["status"], registry=r)
        self.listeners_alive = Gauge(
            "prediction_listeners_alive", "Listeners with a recent heartbeat.", registry=r
        )
        self.database_up = Gauge("database_up", "1 when the last scrape reached the database.", registry=r)
        self.waiters = Gauge("prediction_waiting_requests", "Requests a caller is waiting on.", registry=r)
        self.result_latency = ResultLatency()
        r.register(self.result_latency)
        self._lock = asyncio.Lock()
        # The children per (method, route template, status): `labels()` costs tens of microseconds a call.
        self._http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._submission_children: dict[str, Counter] = {}

    def count_submissions(self, model: str, count: int = 1) -> None:
        """`submissions.labels(model).inc(count)`, with the label child kept (a submission's path)."""
        child = self._submission_children.get(model)
        if child is None:
            child = self._submission_children[model] = self.submissions.labels(model)
        child.inc(count)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:
            children = (
                self.http_requests.labels(method, route, str(status)),
                self.http_seconds.labels(method, route),
            )
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    async def scrape(self, pool: AsyncConnectionPool, alive_seconds: float, waiting: int) -> bytes:
        """Read the database-side numbers (skipped while it is away), then render the text format."""
        async with self._lock:  # two scrapes at once would count the same results twice
            try:
                depth = await repo.queue_depth(pool)
                for status in ("pending", "running", "completed", "failed"):
                    self.queue_depth.labels(status).set(depth.get(status, 0))
                self.listeners_alive.set(await repo.listeners_alive(pool, alive_seconds))
                self.result_latency.add(
                    await repo.result_latency_since(
                        pool, self.result_latency.last_id, RESULT_BUCKETS, SETTLE_SECONDS
                    )
                )
                self.database_up.set(1)
            except DATABASE_DOWN as exc:
                log.warning("metrics: database unavailable: %s", exc)
                self.database_up.set(0)
            self.waiters.set(waiting)
            return generate_latest(self.registry)


class HttpMetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): counts and times every HTTP request by route template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router stores the matched route in the scope: its template keeps label cardinality low.
            route = getattr(scope.get("route"), "path", "<unmatched>")
            self.metrics.observe_http(scope["method"], route, status, perf_counter() - start)
