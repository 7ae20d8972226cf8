"""Altair charts of the Performance page: figures over time, and the calibration plot."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ui.charts import utc_axis

UNIT = alt.Scale(domain=[0, 1])
FIGURE_COLORS = {
    "ROC-AUC": "#3d7cc9",
    "PR-AUC": "#7b4fb8",
    "Brier score": "#f2a900",
    "Share who left": "#d0342c",
}


def over_time_chart(frame: pd.DataFrame) -> alt.Chart:
    """Each live figure per time bucket (all lie in [0, 1]), one line per figure."""
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:T", scale=alt.Scale(type="utc"), axis=utc_axis("prediction time (UTC)")),
            y=alt.Y("value:Q", title=None, scale=UNIT),
            color=alt.Color(
                "figure:N",
                scale=alt.Scale(domain=list(FIGURE_COLORS), range=list(FIGURE_COLORS.values())),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=[
                alt.Tooltip("bucket:T", title="from (UTC)", format="%Y-%m-%d %H:%M", formatType="utc"),
                "figure:N",
                alt.Tooltip("value:Q", format=".3f"),
                alt.Tooltip("labelled:Q", title="labelled predictions"),
            ],
        )
        .properties(height=280)
    )


def calibration_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Observed share who left against the mean predicted probability per bin; the diagonal is perfect."""
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        color="#9e9e9e", strokeDash=[4, 3]
    )
    points = (
        alt.Chart(frame)
        .mark_circle(color="#3d7cc9", opacity=0.85)
        .encode(
            x=alt.X(
                "mean_predicted:Q", title="mean predicted probability", scale=UNIT, axis=alt.Axis(format="%")
            ),
            y=alt.Y("observed_rate:Q", title="share who really left", scale=UNIT, axis=alt.Axis(format="%")),
            size=alt.Size("count:Q", legend=None),
            tooltip=[
                alt.Tooltip("bin_start:Q", title="bin from", format=".0%"),
                alt.Tooltip("bin_end:Q", title="bin to", format=".0%"),
                "count:Q",
                alt.Tooltip("mean_predicted:Q", format=".1%"),
                alt.Tooltip("observed_rate:Q", format=".1%"),
            ],
        )
    )
    line = alt.Chart(frame).mark_line(color="#3d7cc9").encode(x="mean_predicted:Q", y="observed_rate:Q")
    return alt.layer(diagonal.encode(x="x:Q", y="y:Q"), line, points).properties(height=300)
