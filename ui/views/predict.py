"""Predict: one employee's profile in, the model's answer out, timed from submit to result."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from ui import charts
from ui.api_client import ApiError, client
from ui.factors import show_factors
from ui.feature_schema import Feature, Schema, option_text
from ui.feedback import fetch, show_api_error
from ui.layout import header
from ui.models_and_schema import (
    default_model,
    load_models,
    load_schema,
    model_label,
    model_threshold,
    version_label,
)
from ui.settings import get_settings

FORM_COLUMNS = 2  # three cut long choices ('Research_Develop…') at 1400 px
RESULT_KEY = "predict_result"
POLL_SECONDS = 30.0


def feature_key(name: str) -> str:
    return f"feature_{name}"


def feature_widget(feature: Feature) -> Any:
    key, help_text = feature_key(feature.name), feature.help_text() or None
    default = feature.default_value()
    if feature.type == "category":
        options = list(feature.categories)
        return st.selectbox(
            feature.label,
            options,
            index=options.index(default),
            format_func=option_text,
            help=help_text,
            key=key,
        )
    if feature.type == "integer":
        lo = int(feature.minimum) if feature.minimum is not None else None
        hi = int(feature.maximum) if feature.maximum is not None else None
        return st.number_input(feature.label, lo, hi, int(default), step=1, help=help_text, key=key)
    span = (feature.maximum or 1.0) - (feature.minimum or 0.0)
    step = max(span / 100, 0.01)
    return st.number_input(
        feature.label, feature.minimum, feature.maximum, float(default), step=step, help=help_text, key=key
    )


def reset_form(schema: Schema) -> None:
    for name in schema.names:
        st.session_state.pop(feature_key(name), None)
    st.session_state.pop(RESULT_KEY, None)


def submit(features: dict[str, Any], model_name: str | None) -> dict[str, Any]:
    """Send the request, wait for the answer, and time the whole round trip."""
    api = client()
    wait = get_settings().predict_wait_seconds
    started = time.perf_counter()
    answer = api.predict(features, model_name, wait=wait)
    request = answer.request
    deadline = started + POLL_SECONDS
    while request.get("status") in ("pending", "running", None) and time.perf_counter() < deadline:
        remaining = max(1.0, min(wait, deadline - time.perf_counter()))
        request = api.get_request(str(request["request_id"]), wait=remaining)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return {"request": request, "elapsed_ms": elapsed_ms, "model_name": model_name}


def show_result(outcome: dict[str, Any], threshold: float) -> None:
    request = outcome["request"]
    status = request.get("status")
    result = request.get("result") or {}
    with st.container(border=True):
        if status == "failed":
            st.error(
                f"**The model could not answer.** {request.get('error') or 'No reason given.'}",
                icon=":material/warning:",
            )
        elif not result:
            st.warning(
                f"**Still {status or 'queued'} after {POLL_SECONDS:.0f} s.** Is a listener running? "
                "The request is saved: find it later on the History page.",
                icon="⏳",
            )
        else:
            show_answer(result, threshold, outcome["elapsed_ms"])
            show_factors(str(request["request_id"]))
        model = request.get("model_name") or outcome["model_name"]
        st.caption(f"Request `{request.get('request_id')}` · model **{model}**")


def show_answer(result: dict[str, Any], threshold: float, elapsed_ms: float) -> None:
    probability = float(result["probability"])
    if int(result["prediction"]) == 1:
        st.markdown("### :red[Likely to leave]")
    else:
        st.markdown("### :green[Likely to stay]")
    col1, col2 = st.columns(2)
    col1.metric(
        "Probability of leaving",
        f"{probability:.1%}",
        delta=f"{probability - threshold:+.1%} vs threshold",
        delta_color="inverse",
    )
    col2.metric(
        "Submit → result", fmt_ms(elapsed_ms), help="Measured here, from pressing Predict to the answer."
    )
    st.altair_chart(charts.probability_gauge(probability, threshold), width="stretch")
    st.caption(
        f"The black tick is the model's threshold ({threshold:.0%}): at or above it, the answer is "
        f"*likely to leave*. Answered by version **{version_label(result['model_version'])}**."
    )


def fmt_ms(ms: float) -> str:
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def main() -> None:
    header(
        "Predict attrition",
        "Describe an employee; the model answers in milliseconds, and the request is kept.",
    )
    schema = fetch(load_schema)
    models = fetch(load_models)
    if not models:
        st.warning(
            "The service has no models deployed yet. Train and register one, then reload.",
            icon=":material/model_training:",
        )
        st.stop()
    names = [m["name"] for m in models]
    preferred = default_model(models)
    labels = {m["name"]: model_label(m) for m in models}

    # Halves: in a narrower result column the factors chart had no room for its bars and legend.
    form_col, result_col = st.columns(2, gap="large")
    with form_col, st.form("predict_form", border=True):
        model_name = st.selectbox(
            "Model",
            names,
            index=names.index(preferred["name"]) if preferred else 0,
            format_func=labels.get,
            help="Which deployed model answers. The default is the one promoted for production.",
        )
        columns = st.columns(FORM_COLUMNS)
        features = {}
        for i, feature in enumerate(schema.features):
            with columns[i % FORM_COLUMNS]:
                features[feature.name] = feature_widget(feature)
        submitted = st.form_submit_button("Predict", type="primary", width="stretch")
    with form_col:
        st.button("Reset to typical values", on_click=reset_form, args=(schema,))

    with result_col:
        st.subheader("Result")
        if submitted:
            try:
                with st.spinner("Asking the model…"):
                    st.session_state[RESULT_KEY] = submit(features, model_name)
            except ApiError as err:
                st.session_state.pop(RESULT_KEY, None)
                show_api_error(err)
        outcome = st.session_state.get(RESULT_KEY)
        if outcome:
            threshold = model_threshold(
                models, outcome["request"].get("model_name") or model_name, schema.threshold
            )
            show_result(outcome, threshold)
        elif not submitted:
            st.info(
                "Fill in the profile and press **Predict**. "
                "Defaults are the typical (median or most common) values."
            )


main()
