"""The Batch page's outcomes section: a CSV of what really happened, checked, then posted to /outcomes."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.api_client import ApiError, client
from ui.batch_csv import problems_frame
from ui.feedback import show_api_error
from ui.outcomes_csv import TEMPLATE, CheckedOutcomes, add_counts, check_outcomes_csv, chunks

RESULT_KEY = "outcomes_result"


def send(checked: CheckedOutcomes, source: str) -> dict[str, Any]:
    api = client()
    total: dict[str, Any] = {}
    bar = st.progress(0.0, text="Sending outcomes…")
    for chunk in chunks(checked.items):
        total = add_counts(total, api.post_outcomes(chunk, source))
        bar.progress(total["items"] / len(checked.items), text=f"Sent {total['items']:,} outcomes")
    return total


def show_result(result: dict[str, Any]) -> None:
    cols = st.columns(4)
    cols[0].metric("Predictions matched", f"{result['matched']:,}", border=True)
    cols[1].metric("Recorded", f"{result['recorded']:,}", border=True)
    cols[2].metric("Already known", f"{result['unchanged']:,}", border=True)
    cols[3].metric("Matched nothing", f"{result['unknown']:,}", border=True)
    if result["corrected"]:
        st.caption(
            f"{result['corrected']:,} of the recorded outcomes corrected an earlier one (kept as history)."
        )
    if result["unknown"]:
        st.warning(
            f"**{result['unknown']:,} outcome(s) matched no prediction** and were not recorded: an unknown "
            f"request id, or no prediction about that subject in the {result['horizon_days']} days "
            "before it was observed.",
            icon=":material/help:",
        )
        unknown = [*result["unknown_request_ids"], *result["unknown_subject_refs"]]
        st.dataframe(pd.DataFrame({"not matched": unknown[:500]}), hide_index=True, width="stretch")
    else:
        st.success(
            "Every outcome matched a prediction. See them on the Performance page.",
            icon=":material/check_circle:",
        )


def section() -> None:
    st.divider()
    st.subheader("Outcomes: what really happened")
    st.markdown(
        "Months later HR knows who left. Upload it here to measure each model on real outcomes "
        "(the **Performance** page). One row per employee: a `request_id` from a results file, or the "
        "`subject_ref` your predictions file carried; a `label` (1 or *left*, 0 or *stayed*); and "
        "`observed_at`, when it was known (a date means the start of that day, UTC; without the "
        "column, now). "
        "A subject's outcome applies to the predictions about them made before it. Uploading the same file "
        "twice changes nothing."
    )
    st.download_button(
        "Download the outcomes template",
        TEMPLATE.encode(),
        icon=":material/download:",
        file_name="attrition_outcomes_template.csv",
        mime="text/csv",
    )
    upload = st.file_uploader("Outcomes CSV", type=["csv"], key="outcomes_file")
    if upload is None:
        st.session_state.pop(RESULT_KEY, None)
        return
    checked = check_outcomes_csv(upload.getvalue())
    if checked.problems:
        st.error(
            f"**{len(checked.problems):,} problem(s) in `{upload.name}`.** Nothing was sent. "
            "Row 1 is the first line after the header.",
            icon=":material/block:",
        )
        st.dataframe(problems_frame(checked.problems), hide_index=True, width="stretch")
        return
    if st.button(f"Send {len(checked.items):,} outcomes", type="primary", key="outcomes_send"):
        try:
            st.session_state[RESULT_KEY] = send(checked, f"dashboard upload {upload.name}"[:200])
        except ApiError as err:
            show_api_error(err)
    result = st.session_state.get(RESULT_KEY)
    if result:
        show_result(result)
