"""Why the model answered what it did: the top factors of one request, as a chart and a sentence.

Used by the Predict result and the History detail. The explanation comes from the API
(POST /predictions/{request_id}/explanation?wait=S), which a listener computes with the model version
that answered; this module only draws it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui.api_client import ApiError, ApiNotFound, ApiRejected, client
from ui.feature_schema import option_text, plain_words
from ui.feedback import show_api_error
from ui.models_and_schema import load_schema

TOP = 8
EACH_WAY = 2  # the chart shows at least this many factors of each direction, when there are
WAIT_SECONDS = 5.0
RAISES = "#d0342c"  # pushes the risk of leaving up (the chart's "leaves" colour)
LOWERS = "#2e8540"  # pushes it down
SCALE_WORDS = {"log_odds": "log-odds of leaving", "probability": "probability of leaving"}


def value_text(value: Any) -> str:
    """An employee's value as the analyst reads it: 'Travel_Rarely' → 'Travel rarely', 5993 → '5,993',
    5993.0 → '5,993', 2.5 → '2.5'."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        # Never an exponent for the analyst: whole or large numbers as grouped integers.
        if value.is_integer() or abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return option_text(value)


def factor_label(feature: str, value: Any, labels: Mapping[str, str]) -> str:
    """'Over time = Yes': the feature in words, with the employee's value."""
    return f"{labels.get(feature) or plain_words(feature)} = {value_text(value)}"


def top_factors(contributions: list[Mapping[str, Any]], top: int = TOP) -> list[Mapping[str, Any]]:
    """The `top` largest contributions (the API sends them largest first), with at least the EACH_WAY
    strongest of each direction when there are any; most raising first, most lowering last."""
    moved = [c for c in contributions if c.get("contribution")]
    ups = [c for c in moved if c["contribution"] > 0]
    downs = [c for c in moved if c["contribution"] < 0]
    n_up = sum(1 for c in moved[:top] if c["contribution"] > 0)
    n_up, n_down = max(n_up, min(EACH_WAY, len(ups))), max(len(moved[:top]) - n_up, min(EACH_WAY, len(downs)))
    while n_up + n_down > top:  # the side with more gives way; neither drops below EACH_WAY
        if n_up > n_down:
            n_up -= 1
        else:
            n_down -= 1
    return sorted(ups[:n_up] + downs[:n_down], key=lambda c: -c["contribution"])


def factors_frame(explanation: Mapping[str, Any], labels: Mapping[str, str], top: int = TOP) -> pd.DataFrame:
    """The top factors, labelled, with a direction, most raising first."""
    rows = top_factors(list(explanation.get("contributions", [])), top)
    return pd.DataFrame(
        {
            "factor": [factor_label(c["feature"], c.get("value"), labels) for c in rows],
            "contribution": [float(c["contribution"]) for c in rows],
            "effect": ["raises the risk" if c["contribution"] > 0 else "lowers the risk" for c in rows],
        },
        columns=["factor", "contribution", "effect"],
    )


def factors_sentence(explanation: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """One sentence an analyst can repeat: which factor raised the risk most, which lowered it most."""
    contributions = [c for c in explanation.get("contributions", []) if c.get("contribution")]
    if not contributions:
        return "This model answers the same for every employee: no feature moved its answer."
    up = next((c for c in contributions if c["contribution"] > 0), None)
    down = next((c for c in contributions if c["contribution"] < 0), None)
    parts = []
    if up is not None:
        parts.append(f"**{factor_label(up['feature'], up.get('value'), labels)}** raised the risk most")
    if down is not None:
        verb = "lowered it most" if up is not None else "lowered the risk most"
        parts.append(f"**{factor_label(down['feature'], down.get('value'), labels)}** {verb}")
    return "; ".join(parts) + "."


def factors_chart(frame: pd.DataFrame, scale: str) -> alt.Chart:
    """Horizontal bars from zero, largest on top: red raises the risk, green lowers it."""
    order = list(frame["factor"])
    return (
        alt.Chart(frame)
        .mark_bar(cornerRadius=3)
        .encode(
            x=alt.X(
                "contribution:Q",
                title=f"effect on the {SCALE_WORDS.get(scale, scale)}",
                # A handful of round ticks, zero written plainly: Vega's default gave 23 ticks and "+0.00".
                axis=alt.Axis(
                    format="+.0%" if scale == "probability" else "+.1f",
                    tickCount=6,
                    labelExpr="datum.value === 0 ? '0' : datum.label",
                ),
            ),
            y=alt.Y(
                "factor:N",
                sort=order,
                title=None,
                scale=alt.Scale(paddingInner=0.25),
                axis=alt.Axis(labelLimit=320, labelOverlap=False),
            ),
            color=alt.Color(
                "effect:N",
                scale=alt.Scale(domain=["raises the risk", "lowers the risk"], range=[RAISES, LOWERS]),
                # One entry a line: side by side they ran past the chart in a half-page column.
                legend=alt.Legend(orient="top", title=None, direction="vertical", labelLimit=0),
            ),
            tooltip=["factor:N", alt.Tooltip("contribution:Q", format="+.4f"), "effect:N"],
        )
        .properties(height=alt.Step(30))
    )


@st.cache_data(ttl=300, show_spinner=False, max_entries=256)
def _explanation(api_url: str, request_id: str) -> dict[str, Any]:
    # Cached only once it exists (an exception or a 202 is not cached, so a rerun asks again).
    body = client().explain(request_id, wait=WAIT_SECONDS)
    if "contributions" not in body:
        raise _NotReady(str(body.get("detail") or "being computed"))
    return body


class _NotReady(Exception):
    pass


def feature_labels() -> dict[str, str]:
    """Feature names in the analyst's words, from the served schema (names themselves if it fails)."""
    try:
        return {f.name: f.label for f in load_schema().features}
    except ApiError:
        return {}


def show_factors(request_id: str, labels: Mapping[str, str] | None = None) -> None:
    """The request's top factors, asked for and drawn; a plain sentence when there are none (yet)."""
    labels = feature_labels() if labels is None else labels
    st.markdown("**Why: the top factors**")
    try:
        with st.spinner("Explaining the answer…"):
            explanation = _explanation(client().base_url, request_id)
    except _NotReady as reason:
        st.info(f"The explanation is not ready yet ({reason}). Open the request again in a moment.")
        return
    except (ApiRejected, ApiNotFound) as err:
        reason = "; ".join(getattr(err, "problems", [])) or err.message
        st.warning(f"No explanation for this request: {reason}", icon=":material/help:")
        return
    except ApiError as err:
        show_api_error(err)
        return
    st.markdown(factors_sentence(explanation, labels))
    frame = factors_frame(explanation, labels)
    if not frame.empty:
        st.altair_chart(factors_chart(frame, explanation["scale"]), width="stretch")
    st.caption(scale_caption(explanation))


# What each method is, for an analyst (the API's method names are for programs).
METHOD_WORDS = {
    "linear_log_odds": "each weight of the model times how far the employee is from the training average",
    "tree_shap": "exact Shapley values of the forest (TreeSHAP): each feature's fair share of the answer",
    "constant": "none needed, this model answers the same for everyone",
}


def scale_caption(explanation: Mapping[str, Any]) -> str:
    """How to read the bars: what they add up to, on the explanation's scale and as probabilities."""
    base, output, scale = explanation["base_value"], explanation["output"], explanation["scale"]
    if scale == "log_odds":
        words = "the log-odds of leaving"
        span = (
            f"{expit(base):.0%} for an average employee ({base:+.2f}) "
            f"to {expit(output):.1%} for this one ({output:+.2f})"
        )
    else:
        words = "the probability of leaving, in percentage points"
        span = f"{base:.0%}, its average answer over the training data, to {output:.1%} for this employee"
    method = METHOD_WORDS.get(explanation["method"], str(explanation["method"]).replace("_", " "))
    return (
        f"Each bar is how far the employee's value moved {words}; all features together take the model "
        f"from {span}. Method: {method}; model version {str(explanation['model_version'])[:12]}."
    )


def expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
