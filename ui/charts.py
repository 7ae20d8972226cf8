"""Altair charts of the dashboard, one function per figure, data frames in, charts out."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ui.summary_frames import PSI_MAJOR, PSI_MODERATE

STATUS_COLORS = {"pending": "#f2a900", "running": "#3d7cc9", "completed": "#2e8540", "failed": "#d0342c"}
BAND_COLORS = {  # a feature without a PSI yet is left out of the chart, so there is no "unknown" band
    "stable": "#2e8540",
    "moderate shift": "#f2a900",
    "major shift": "#d0342c",
}
COUNT_AXIS = alt.Axis(format="d", tickMinStep=1)
# Times on a UTC, 24-hour clock, the date under each time: the tables say UTC, so do the charts (a
# browser's own time zone and Vega's default "06 AM" ticks would not).
UTC_TICKS = "[utcFormat(datum.value, '%H:%M'), utcFormat(datum.value, '%d %b')]"


def utc_axis(title: str | None = "time (UTC)") -> alt.Axis:
    return alt.Axis(title=title, labelExpr=UTC_TICKS, labelAngle=0, labelOverlap=True)


LEAVE = "#d0342c"
STAY = "#2e8540"


def _scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def probability_gauge(probability: float, threshold: float) -> alt.LayerChart:
    """A 0–1 track filled to the probability, with the model's threshold as a black tick."""
    color = LEAVE if probability >= threshold else STAY
    x = alt.X(
        "start:Q",
        scale=alt.Scale(domain=[0, 1]),
        axis=alt.Axis(format="%", title=None, grid=False, labelPadding=6),
    )
    bar = {"cornerRadius": 6, "height": 26}
    track = alt.Chart(pd.DataFrame({"start": [0.0], "end": [1.0]})).mark_bar(color="#e8eaed", **bar)
    fill = alt.Chart(pd.DataFrame({"start": [0.0], "end": [probability]})).mark_bar(color=color, **bar)
    tick = alt.Chart(pd.DataFrame({"start": [threshold]})).mark_rule(color="#202124", strokeWidth=3)
    return alt.layer(
        track.encode(x=x, x2="end:Q"),
        fill.encode(
            x="start:Q", x2="end:Q", tooltip=[alt.Tooltip("end:Q", title="probability", format=".1%")]
        ),
        tick.encode(
            x="start:Q", y=alt.value(2), y2=alt.value(42), tooltip=alt.value(f"threshold {threshold:.0%}")
        ),
    ).properties(height=44)


def throughput_chart(
    frame: pd.DataFrame, bucket: pd.Timedelta, since: pd.Timestamp, until: pd.Timestamp
) -> alt.Chart:
    """Requests submitted per bucket over the whole window, stacked by outcome."""
    data = frame.assign(bucket_end=frame["bucket"] + bucket)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "bucket:T",
                scale=alt.Scale(type="utc", domain=[since.isoformat(), until.isoformat()]),
                axis=utc_axis(),
            ),
            x2="bucket_end:T",
            y=alt.Y("sum(count):Q", title="requests submitted", axis=COUNT_AXIS),
            color=alt.Color(
                "status:N", scale=_scale(STATUS_COLORS), legend=alt.Legend(orient="top", title=None)
            ),
            order=alt.Order("status:N"),
            tooltip=[
                alt.Tooltip("bucket:T", title="from (UTC)", format="%Y-%m-%d %H:%M:%S", formatType="utc"),
                "status:N",
                "count:Q",
            ],
        )
        .properties(height=260)
    )


def latency_chart(frame: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(frame.dropna()).encode(
        x=alt.X("percentile:N", sort=list(frame["percentile"]), title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("ms:Q", title="submit → result (ms)"),
    )
    bars = base.mark_bar(color="#3d7cc9", cornerRadiusTopLeft=4, cornerRadiusTopRight=4)
    labels = base.mark_text(dy=-8).encode(text=alt.Text("ms:Q", format=",.1f"))
    return alt.layer(bars, labels).properties(height=260)


def status_chart(frame: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(frame).encode(
        y=alt.Y("status:N", sort=list(STATUS_COLORS), title=None),
        x=alt.X("count:Q", title="requests", axis=COUNT_AXIS),
    )
    bars = base.mark_bar(cornerRadiusEnd=4).encode(
        color=alt.Color("status:N", scale=_scale(STATUS_COLORS), legend=None), tooltip=["status:N", "count:Q"]
    )
    labels = base.mark_text(align="left", dx=4).encode(text="count:Q")
    return alt.layer(bars, labels).properties(height=200)


def probability_chart(frame: pd.DataFrame, threshold: float) -> alt.LayerChart:
    bars = (
        alt.Chart(frame)
        .mark_bar(opacity=0.75, binSpacing=1)
        .encode(
            x=alt.X(
                "bin_start:Q",
                bin="binned",
                title="predicted probability of leaving",
                axis=alt.Axis(format="%"),
            ),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="requests", stack=None, axis=COUNT_AXIS),
            color=alt.Color("model_name:N", title="model", legend=alt.Legend(orient="top")),
            tooltip=["model_name:N", alt.Tooltip("bin_start:Q", format=".0%"), "count:Q"],
        )
    )
    rule = alt.Chart(pd.DataFrame({"x": [threshold]})).mark_rule(color="#202124", strokeDash=[4, 3])
    return alt.layer(bars, rule.encode(x="x:Q")).properties(height=260)


def drift_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """PSI per feature, worst first, with the usual 0.1 and 0.25 marks: every bar named, in full."""
    order = list(frame["feature"])
    bars = (
        alt.Chart(frame)
        .mark_bar(cornerRadiusEnd=3)
        .encode(
            y=alt.Y(
                "feature:N",
                sort=order,
                title=None,
                # Vega drops labels that would overlap and shortens long ones: 15 of 30 bars went unnamed.
                axis=alt.Axis(labelOverlap=False, labelLimit=0, labelFontSize=11),
                scale=alt.Scale(paddingInner=0.2),
            ),
            x=alt.X("psi:Q", title="population stability index (PSI)"),
            color=alt.Color(
                "band:N",
                scale=_scale(BAND_COLORS),
                legend=alt.Legend(orient="top", title=None, labelLimit=0, symbolType="square"),
            ),
            tooltip=["feature:N", alt.Tooltip("psi:Q", format=".3f"), "band:N"],
        )
    )
    marks = pd.DataFrame({"x": [PSI_MODERATE, PSI_MAJOR]})
    rules = alt.Chart(marks).mark_rule(color="#5f6368", strokeDash=[4, 3]).encode(x="x:Q")
    return alt.layer(bars, rules).properties(height=alt.Step(17))


def metrics_chart(frame: pd.DataFrame) -> alt.Chart:
    """Each model's metrics side by side, one group per metric, one bar per model."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("model:N", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("model:N", legend=alt.Legend(orient="top", title=None)),
            column=alt.Column("metric:N", title=None, header=alt.Header(labelOrient="bottom")),
            tooltip=["model:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(width=70, height=220)
    )
