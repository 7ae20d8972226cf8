"""History: the latest requests, filtered by status, model and time; open one to see it whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from ui.api_client import ApiError, ApiNotFound, client
from ui.factors import show_factors, value_text
from ui.feature_schema import plain_words
from ui.feedback import fetch, show_api_error
from ui.layout import header
from ui.models_and_schema import load_models, load_schema, version_label
from ui.request_table import (
    STATUSES,
    history_table,
    ordered_features,
    page_caption,
    request_label,
    requests_frame,
    utc_time,
)

ANY = "Any"
PERIODS = {
    "Last 15 minutes": timedelta(minutes=15),
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "All time": None,
}
PAGE_SIZES = (50, 100, 250)
CURSORS_KEY = "history_cursors"


def filters(model_names: list[str]) -> dict[str, Any]:
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
    status = c1.selectbox("Status", [ANY, *STATUSES], key="history_status")
    model = c2.selectbox("Model", [ANY, *model_names], key="history_model")
    period = c3.selectbox("Submitted", list(PERIODS), index=2, key="history_period")
    limit = c4.selectbox("Rows per page", PAGE_SIZES, key="history_limit")
    delta = PERIODS[period]
    return {
        "status": None if status == ANY else status,
        "model": None if model == ANY else model,
        "since": (datetime.now(UTC) - delta).isoformat() if delta else None,
        "limit": limit,
        "_period": period,
    }


def cursor_stack(key: tuple[Any, ...]) -> list[str | None]:
    """Cursors of the pages visited under the current filters; a filter change starts over."""
    saved = st.session_state.get(CURSORS_KEY)
    if not saved or saved[0] != key:
        st.session_state[CURSORS_KEY] = (key, [None])
    return st.session_state[CURSORS_KEY][1]


def show_request(request: dict[str, Any]) -> None:
    result = request.get("result") or {}
    latency = requests_frame([request])["latency_ms"].iloc[0]
    with st.container(border=True):
        st.markdown(f"#### Request `{request.get('request_id')}`")
        st.markdown(
            f"Model **{request.get('model_name')}**"
            + (f" · answered by version **{version_label(result['model_version'])}**" if result else "")
        )
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Status", str(request.get("status")))
        if result:
            c2.metric("Prediction", "Leaves" if int(result["prediction"]) == 1 else "Stays")
            c3.metric("Probability of leaving", f"{float(result['probability']):.1%}")
        if pd.notna(latency):
            c4.metric("Submit → result", f"{latency:,.1f} ms")
        when = f"Submitted {utc_time(request.get('created_at'))}"
        if result:
            when += f" · answered {utc_time(result.get('created_at'))}"
        st.caption(when)
        if request.get("error"):
            st.error(f"**Error:** {request['error']}", icon=":material/error:")
        if result:
            show_factors(str(request["request_id"]))
        pairs = ordered_features(request.get("features") or {}, fetch(load_schema).names)
        st.markdown("**Features**")
        names, values = [plain_words(name) for name, _ in pairs], [value_text(value) for _, value in pairs]
        half = (len(names) + 1) // 2
        for col, part in zip(st.columns(2), (slice(0, half), slice(half, None)), strict=True):
            col.dataframe(
                pd.DataFrame({"feature": names[part], "value": values[part]}),
                hide_index=True,
                width="stretch",
                height="content",
            )


def open_request(ids: list[str], labels: dict[str, str], selected: str | None) -> None:
    st.subheader("Open a request")
    st.caption("Click a row above, choose one here, or paste any request id.")
    c1, c2 = st.columns(2)
    picked = c1.selectbox(
        "From this page",
        ids,
        index=None,
        format_func=labels.get,
        placeholder="Choose a request…",
        key="history_pick",
    )
    typed = c2.text_input("Request id", value=st.query_params.get("request", ""), key="history_typed").strip()
    request_id = typed or picked or selected
    if not request_id:
        return
    try:
        show_request(client().get_request(request_id))
    except ApiNotFound:
        st.warning(f"No request `{request_id}` exists.", icon=":material/search_off:")
    except ApiError as err:
        show_api_error(err)


# Widths in pixels, summing to less than the page's width at 1400 px: no column is cut off.
COLUMNS = {
    "submitted": st.column_config.DatetimeColumn(
        "submitted (UTC)", format="YYYY-MM-DD HH:mm:ss", timezone="UTC", width=135
    ),
    "request_id": st.column_config.TextColumn("request id", width=258),
    "model": st.column_config.TextColumn("model", width=135),
    "status": st.column_config.TextColumn("status", width=78),
    "prediction": st.column_config.TextColumn("prediction", width=72),
    "probability": st.column_config.ProgressColumn(
        "probability", format="percent", min_value=0.0, max_value=1.0, width=95
    ),
    "version": None,  # the detail below says which version answered
    "latency_ms": st.column_config.NumberColumn(
        "latency", format="%.1f ms", width=68, help="From submission to result"
    ),
    "error": st.column_config.TextColumn("error", width=55),
}


def main() -> None:
    header("History", "Every request is stored with its features and answer. Newest first.")
    models = fetch(load_models)
    chosen = filters([m["name"] for m in models])
    query = {k: v for k, v in chosen.items() if not k.startswith("_")}
    stack = cursor_stack(tuple(sorted((k, str(v)) for k, v in chosen.items() if k != "since")))
    page = fetch(client().history, **query, cursor=stack[-1])
    frame = requests_frame(page["items"])

    selected = None
    if frame.empty:
        st.info(
            "No requests match these filters yet. Make one on the **Predict** page.",
            icon=":material/history:",
        )
    else:
        event = st.dataframe(
            history_table(frame),
            hide_index=True,
            width="stretch",
            column_config=COLUMNS,
            on_select="rerun",
            selection_mode="single-row",
            key="history_table",
        )
        rows = event.selection.rows if event else []
        selected = str(frame["request_id"].iloc[rows[0]]) if rows else None
    prev_col, info_col, next_col = st.columns([1, 3, 1])
    if len(stack) > 1 and prev_col.button("Newer", icon=":material/arrow_back:", key="history_newer"):
        stack.pop()
        st.rerun()
    first = 1 + (len(stack) - 1) * int(chosen["limit"])  # the pages before this one were full
    info_col.caption(page_caption(len(stack), first, len(frame), page["total"], page["total_capped"]))
    if page["next_cursor"] and next_col.button("Older", icon=":material/arrow_forward:", key="history_older"):
        stack.append(page["next_cursor"])
        st.rerun()

    labels = {row.request_id: request_label(row) for row in frame.itertuples()}
    open_request(list(frame["request_id"]), labels, selected)


main()
