"""Performance: each model version measured on what really happened, beside its offline figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from ui.api_client import client
from ui.feedback import fetch
from ui.layout import header
from ui.performance_charts import calibration_chart, over_time_chart
from ui.performance_frames import (
    MIN_POINT_LABELS,
    WINDOWS,
    as_shown,
    calibration_frame,
    figure_text,
    offline_vs_live,
    over_time_frame,
    summary_frame,
    verdict,
    version_key,
)

FIGURE = st.column_config.TextColumn(alignment="right")  # as_shown() wrote them: '0.812' or '—'
SUMMARY_FIGURES = ("share who left", "ROC-AUC", "PR-AUC", "Brier", "Precision", "Recall", "F1")
LIVE_FIGURES = ("live", "offline (CV mean)", "offline (held-out test)")
NOT_COMPUTABLE = "Not computable yet: it needs labelled predictions, with some who left and some who stayed."


def load(days: int) -> dict[str, Any]:
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    return client().performance(since=since)


def version_panel(entry: dict[str, Any]) -> None:
    st.subheader(version_key(entry))
    if entry["note"]:
        st.warning(entry["note"], icon=":material/balance:")
    cols = st.columns(5)
    cols[0].metric(f"Labelled, of {entry['predictions']:,}", f"{entry['labelled']:,}", border=True)
    for col, key, label in zip(
        cols[1:], ("roc_auc", "pr_auc", "brier", "f1"), ("ROC-AUC", "PR-AUC", "Brier", "F1"), strict=True
    ):
        value = entry[key]
        col.metric(label, figure_text(value), help=NOT_COMPUTABLE if value is None else None, border=True)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Over time**")
        points = over_time_frame(entry)
        if points.empty:
            st.caption(f"No time bucket has {MIN_POINT_LABELS} labelled predictions yet.")
        else:
            st.altair_chart(over_time_chart(points), width="stretch")
            st.caption(
                f"By prediction time; buckets with fewer than {MIN_POINT_LABELS} labelled predictions are "
                "left out (one employee would swing them). Hover a point for its count."
            )
    with right:
        st.markdown("**Calibration**")
        bins = calibration_frame(entry)
        if bins.empty:
            st.caption("No labelled prediction yet.")
        else:
            st.altair_chart(calibration_chart(bins), width="stretch")
            st.caption(
                "On the dashed diagonal, a predicted 30 % means 30 % really left. "
                "The bigger the dot, the more predictions in the bin."
            )
    threshold = entry["threshold"]
    st.markdown(
        "**Live against offline** (decisions at the version's threshold"
        + (f" {threshold:.2f})" if threshold is not None else ")")
    )
    st.dataframe(
        as_shown(offline_vs_live(entry), LIVE_FIGURES),
        hide_index=True,
        width="stretch",
        column_config=dict.fromkeys(LIVE_FIGURES, FIGURE),
    )


def main() -> None:
    header(
        "Performance",
        "How right each model version is on real outcomes (posted through the Batch page or POST /outcomes).",
    )
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    window = c1.segmented_control("Window", list(WINDOWS), default="Last 30 days", key="performance_window")
    c2.button("Refresh", icon=":material/refresh:", width="stretch", key="performance_refresh")
    answer = fetch(load, WINDOWS[window or "Last 30 days"])
    plain = verdict(answer)
    if plain:
        st.info(plain, icon=":material/info:")
    if not answer["models"]:
        return
    st.dataframe(
        as_shown(summary_frame(answer), SUMMARY_FIGURES),
        hide_index=True,
        width="stretch",
        column_config=dict.fromkeys(SUMMARY_FIGURES, FIGURE),
    )
    st.caption(
        "ROC-AUC and PR-AUC need both outcomes among the labelled predictions; until then they are "
        "not computable, shown as — (never as 0.5)."
    )
    for entry in answer["models"]:
        version_panel(entry)


main()
