"""Monitoring: throughput, latency, statuses, probabilities per model, listeners alive, feature drift.

Reads `GET /monitoring/summary?window_minutes=M`, the API's own figures for the window:

    {"window": {"since": ts, "until": ts, "bucket_seconds": 60},
     "requests": 1234,
     "status_counts": {"pending": 2, "running": 1, "completed": 1220, "failed": 11},
     "throughput": [{"bucket": ts, "pending": 0, "running": 0, "completed": 20, "failed": 0}, ...],
     "latency_ms": {"count": 1220, "p50": 4.2, "p90": 8.1, "p95": 11.0, "p99": 35.5, "max": 120.3},
     "probability_histogram": [
         {"model_name": "logistic", "bin_start": 0.0, "bin_end": 0.05, "count": 12}, ...],
     "listeners": [{"listener_id": "h:42:0", "hostname": "h", "pid": 42, "mode": "notify", "started_at": ts,
                    "last_seen_at": ts, "stopped_at": null, "processed": 1200, "failed": 3, "alive": true}],
     "drift": {"reference": "training data", "model_name": "random_forest_e04", "version": "v3",
               "training_rows": 1176, "training_data_sha256": "…", "missing": null, "sample_size": 500,
               "features": [{"name": "monthly_income", "psi": 0.31}, ...]}}
"""

from __future__ import annotations

import streamlit as st

from ui import charts
from ui.api_client import client
from ui.feature_schema import plain_words
from ui.feedback import fetch
from ui.layout import header
from ui.models_and_schema import load_metadata
from ui.summary_frames import WINDOWS, MonitoringData, bucket_label, from_summary


def load(minutes: int) -> MonitoringData:
    return from_summary(client().monitoring_summary(minutes))


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} ms"


def kpis(data: MonitoringData) -> None:
    # Two rows of three: six cards in one row cut a latency of "1,234.5 ms" to "1,23…" at 1400 px.
    cards = [
        ("Requests", f"{data.requests:,}"),
        ("Completed", f"{data.completed:,}"),
        ("Failed", f"{data.failed:,}"),
        ("Latency p50", fmt_ms(data.latency_ms("p50"))),
        ("Latency p95", fmt_ms(data.latency_ms("p95"))),
        ("Listeners alive", str(data.listeners_alive)),
    ]
    for row in (cards[:3], cards[3:]):
        for col, (label, value) in zip(st.columns(3), row, strict=True):
            col.metric(label, value, border=True)


def listeners_panel(data: MonitoringData) -> None:
    st.subheader("Listeners")
    if data.listeners.empty:
        st.warning(
            "No listener has ever reported. Requests will wait until one starts.", icon=":material/sensors:"
        )
        return
    if data.listeners_alive == 0:
        st.error(
            "**No listener is alive.** New requests will queue until one starts.", icon=":material/sensors:"
        )
    frame = data.listeners.assign(alive=data.listeners["alive"].map({True: "alive", False: "gone"}))
    st.dataframe(
        frame[["alive", "listener_id", "mode", "last_seen_at", "processed", "failed"]],
        hide_index=True,
        width="stretch",
        column_config={
            "alive": st.column_config.TextColumn("state"),
            "listener_id": st.column_config.TextColumn("listener"),
            "last_seen_at": st.column_config.DatetimeColumn(
                "last seen (UTC)", format="YYYY-MM-DD HH:mm:ss", timezone="UTC"
            ),
        },
    )


def drift_panel(data: MonitoringData) -> None:
    st.subheader("Feature drift vs. training data")
    if data.drift_missing:
        st.info(f"No drift is measured: {data.drift_missing}.", icon=":material/query_stats:")
        return
    if data.drift.empty:
        st.info("Not enough recent requests to measure drift.", icon=":material/query_stats:")
        return
    words = data.drift.assign(feature=data.drift["feature"].map(plain_words))
    st.altair_chart(charts.drift_chart(words), width="stretch")
    st.caption(
        "Population stability index of recent requests against the training data, worst first. "
        "Below 0.1: stable; 0.1–0.25: moderate shift; above 0.25: major shift."
    )


def main() -> None:
    header("Monitoring", "How the service is doing: traffic, speed, outcomes, workers and data drift.")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    window = c1.segmented_control("Window", list(WINDOWS), default="Last hour", key="monitoring_window")
    c2.button("Refresh", icon=":material/refresh:", width="stretch")
    data = fetch(load, WINDOWS[window or "Last hour"])
    threshold = float(fetch(load_metadata)["threshold"])
    kpis(data)
    if data.requests == 0:
        st.info("No requests in this window yet.", icon=":material/inbox:")

    left, right = st.columns([2, 1], gap="large")
    with left:
        st.subheader("Throughput")
        if data.throughput.empty:
            st.caption("No traffic in this window.")
        else:
            chart = charts.throughput_chart(data.throughput, data.bucket, data.since, data.until)
            st.altair_chart(chart, width="stretch")
            st.caption(
                f"Requests submitted per {bucket_label(data.bucket)}, coloured by where they stand now."
            )
    with right:
        st.subheader("Requests by status")
        st.altair_chart(charts.status_chart(data.status_counts), width="stretch")

    left, right = st.columns([1, 2], gap="large")
    with left:
        st.subheader("Latency percentiles")
        if data.latency["ms"].notna().any():
            st.altair_chart(charts.latency_chart(data.latency), width="stretch")
        else:
            st.caption("No completed requests in this window.")
    with right:
        st.subheader("Predicted probability by model")
        if data.probabilities["count"].sum() == 0:
            st.caption("No answers in this window.")
        else:
            st.altair_chart(charts.probability_chart(data.probabilities, threshold), width="stretch")

    listeners_panel(data)  # full width: beside the drift chart its table was cut at 1400 px
    drift_panel(data)


main()
