"""Batch: a CSV of employees in, checked against the schema before sending, a CSV of answers out."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pandas as pd
import streamlit as st

from ui import batch_reasons, outcomes_upload
from ui.api_client import ApiError, client
from ui.batch_csv import CheckedFile, check_csv, problems_frame, results_frame, template_csv
from ui.collect import collect
from ui.feature_schema import Schema
from ui.feedback import fetch, show_api_error
from ui.layout import header
from ui.models_and_schema import default_model, load_models, load_schema, model_label
from ui.outcomes_csv import with_subject_refs

CHUNK_ROWS = 2_000  # rows per POST /predictions/batch (the API takes up to 10,000)
RESULT_WAIT_SECONDS = 10.0  # how long to keep looking up answers still pending
CHECK_KEY = "batch_check"
OUTCOME_KEY = "batch_outcome"
SHOWN_ROWS = 200  # rows in the table on the page (the results file has every row)


def checked_upload(data: bytes, schema: Schema) -> CheckedFile:
    """Check once per distinct file (reruns reuse it)."""
    digest = hashlib.sha256(data).hexdigest()
    cached = st.session_state.get(CHECK_KEY)
    if cached and cached[0] == digest:
        return cached[1]
    checked = check_csv(data, schema)
    st.session_state[CHECK_KEY] = (digest, checked)
    st.session_state.pop(OUTCOME_KEY, None)
    return checked


def show_check(checked: CheckedFile, file_name: str) -> None:
    rows, matched = len(checked.frame), len(checked.frame.columns) - len(checked.extra_columns)
    if checked.problems:
        st.error(
            f"**{len(checked.problems):,} problem(s) in `{file_name}`.** Nothing was sent: "
            "fix them and upload again. "
            "Row 1 is the first line after the header.",
            icon=":material/block:",
        )
        st.dataframe(problems_frame(checked.problems), hide_index=True, width="stretch")
        return
    st.success(
        f"**`{file_name}` is valid:** {rows:,} rows, {matched} feature columns.",
        icon=":material/check_circle:",
    )
    if checked.extra_columns:
        st.caption(
            "Extra columns are not sent but are kept in the results file: "
            + ", ".join(f"`{c}`" for c in checked.extra_columns)
        )
    with st.expander("Preview the first rows"):
        st.dataframe(checked.frame.head(20), hide_index=True, width="stretch")


def send(checked: CheckedFile, model_name: str | None, slot: Any) -> dict[str, Any]:
    """Send in chunks, then collect the answers by chunked lookups, with one progress bar over both
    (drawn in `slot`, the place the finished bar keeps on later reruns)."""
    api = client()
    total = len(checked.items)
    bar = slot.progress(0.0, text="Sending…")
    started = time.perf_counter()
    ids: list[str] = []
    items = with_subject_refs(checked.frame, checked.items)
    for start in range(0, total, CHUNK_ROWS):
        ids += api.submit_batch(items[start : start + CHUNK_ROWS], model_name)
        bar.progress(len(ids) / (2 * total), text=f"Sent {len(ids):,} of {total:,} rows")

    def received(done: int, total: int) -> None:
        bar.progress(0.5 + done / (2 * total), text=f"Answers received: {done:,} of {total:,}")

    collected = collect(api, ids, RESULT_WAIT_SECONDS, received)
    elapsed = time.perf_counter() - started
    done_text = f"Done: {total:,} rows sent and {answered(collected.items):,} answered in {elapsed:,.1f} s"
    bar.progress(1.0, text=done_text)
    unknown = [{"request_id": rid, "status": "unknown"} for rid in ids]
    requests = [r if r is not None else unknown[i] for i, r in enumerate(collected.items)]
    return {
        "results": results_frame(checked.frame, requests),
        "done_text": done_text,
        "elapsed_s": elapsed,
        "model_name": model_name,
        "error": collected.error,
        "extra_columns": checked.extra_columns,
    }


def answered(items: list[dict[str, Any] | None]) -> int:
    return sum(1 for r in items if r is not None and r.get("status") in ("completed", "failed"))


def show_outcome(outcome: dict[str, Any], file_name: str) -> None:
    results: pd.DataFrame = outcome["results"]
    if outcome["error"] is not None:
        st.warning(
            "Some answers could not be collected; their status is `unknown` below.", icon=":material/warning:"
        )
        show_api_error(outcome["error"])
    counts = results["status"].value_counts()
    scored = results.dropna(subset=["probability"])
    leavers = int((results["prediction"] == 1).sum())
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Rows", f"{len(results):,}")
    c2.metric("Completed", f"{int(counts.get('completed', 0)):,}")
    c3.metric("Failed / pending", f"{len(results) - int(counts.get('completed', 0)):,}")
    share = leavers / max(len(scored), 1)
    c4.metric("Predicted to leave", f"{leavers:,}", f"{share:.1%} of scored", "off", delta_arrow="off")
    rate = len(results) / max(outcome["elapsed_s"], 1e-9)
    c5.metric("Time", f"{outcome['elapsed_s']:,.1f} s", f"{rate:,.0f} rows/s", "off", delta_arrow="off")
    batch_reasons.show_reasons_control(outcome)  # may add reason_1..3 to the results
    results = outcome["results"]
    st.download_button(
        "Download results (CSV)",
        results.to_csv(index=False).encode(),
        icon=":material/download:",
        file_name=file_name.rsplit(".", 1)[0] + "_predictions.csv",
        mime="text/csv",
        type="primary",
        on_click="ignore",  # a download is no reason to redraw the page
    )
    riskiest = st.toggle("Highest risk first", value=True, key="batch_riskiest_first")
    ordered = results.sort_values("probability", ascending=False, na_position="last") if riskiest else results
    if len(ordered) > SHOWN_ROWS:
        st.caption(f"The first {SHOWN_ROWS} of {len(ordered):,} rows; the download holds them all.")
    answer = ["status", "prediction", "probability", "model_version", "error", "request_id"]
    extra = [c for c in outcome["extra_columns"] if c in results.columns]
    st.dataframe(
        ordered.head(SHOWN_ROWS),
        hide_index=True,
        width="stretch",
        # The answers, their reasons once asked for, and the columns the file added (an employee id);
        # the features are in the download.
        column_order=[*extra, *answer, *(c for c in batch_reasons.COLUMNS if c in results.columns)],
        column_config={
            "probability": st.column_config.ProgressColumn(
                "probability", format="percent", min_value=0, max_value=1
            ),
        },
    )


def main() -> None:
    header("Batch predictions", "Score a whole file of employees at once; each row becomes a stored request.")
    schema = fetch(load_schema)
    models = fetch(load_models)
    st.markdown(
        "**1.** Start from the template: one column per feature (names as below, categories spelled "
        "as in the data set). Columns you add, such as an employee id, are carried through to the results; "
        "a `subject_ref` column (a pseudonymous employee reference, never a name) is also sent with each "
        "prediction, so outcomes can later be uploaded by employee."
    )
    st.download_button(
        "Download the CSV template",
        template_csv(schema),
        icon=":material/download:",
        file_name="attrition_batch_template.csv",
        mime="text/csv",
    )
    with st.expander("Columns and allowed values"):
        st.dataframe(schema_table(schema), hide_index=True, width="stretch")

    st.markdown("**2.** Choose the model and upload the file. It is checked here before anything is sent.")
    names = [m["name"] for m in models]
    preferred = default_model(models)
    labels = {m["name"]: model_label(m) for m in models}
    model_name = st.selectbox(
        "Model",
        names,
        index=names.index(preferred["name"]) if preferred else None,
        format_func=labels.get,
        key="batch_model",
    )
    upload = st.file_uploader("CSV file", type=["csv"], key="batch_file")
    if upload is None:
        st.session_state.pop(OUTCOME_KEY, None)
        return
    checked = checked_upload(upload.getvalue(), schema)
    show_check(checked, upload.name)
    if not checked.ok:
        return

    st.markdown("**3.** Send.")
    clicked = st.button(f"Send {len(checked.items):,} predictions", type="primary")
    slot = st.empty()  # the progress bar's one place, on this run and the next ones
    if clicked:
        try:
            st.session_state[OUTCOME_KEY] = send(checked, model_name, slot)
        except ApiError as err:
            slot.empty()
            show_api_error(err)
    outcome = st.session_state.get(OUTCOME_KEY)
    if outcome:
        if not clicked:
            slot.progress(1.0, text=outcome["done_text"])
        show_outcome(outcome, upload.name)


def schema_table(schema: Schema) -> pd.DataFrame:
    rows = []
    for f in schema.features:
        if f.categories:
            allowed = ", ".join(f.categories)
        elif f.minimum is not None or f.maximum is not None:
            allowed = (
                f"{f.minimum:g} – {f.maximum:g}" if f.minimum is not None and f.maximum is not None else ""
            )
        else:
            allowed = ""
        rows.append({"column": f.name, "type": f.type, "allowed": allowed, "description": f.description})
    return pd.DataFrame(rows)


main()
outcomes_upload.section()
