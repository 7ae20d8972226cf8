"""The Batch results file's top three reasons per row: each answer's largest factors, in the analyst's words.

Asked for in one call per chunk (POST /predictions/explanations with "top": 3); listeners compute them
with the model version that answered each row, and the page keeps asking for the unfinished ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from ui.api_client import ApiClient, client
from ui.collect import collect
from ui.factors import factor_label, feature_labels
from ui.feedback import show_api_error

TOP = 3
COLUMNS = tuple(f"reason_{i}" for i in range(1, TOP + 1))
# Exact forest explanations take tens of milliseconds a row: give a large file time, within bounds.
WAIT_BASE_SECONDS, WAIT_PER_ROW_SECONDS, WAIT_MAX_SECONDS = 10.0, 0.05, 600.0
REASONS_KEY = "batch_reasons"


def reason_text(contribution: Mapping[str, Any], scale: str, labels: Mapping[str, str]) -> str:
    """'Over time = Yes: raises the risk (+0.42 log-odds)', or '… (-3.1 points)' on the probability scale."""
    label = factor_label(contribution["feature"], contribution.get("value"), labels)
    size = float(contribution["contribution"])
    effect = "raises the risk" if size > 0 else "lowers the risk"
    amount = f"{size:+.2f} log-odds" if scale == "log_odds" else f"{size * 100:+.1f} points"
    return f"{label}: {effect} ({amount})"


def reasons_of(item: Mapping[str, Any] | None, labels: Mapping[str, str]) -> list[str]:
    """The row's reasons, largest first: factors that moved the answer (a constant model has none)."""
    explanation = (item or {}).get("explanation")
    if not explanation:
        return []
    moved = [c for c in explanation["contributions"] if c.get("contribution")]
    return [reason_text(c, explanation["scale"], labels) for c in moved[:TOP]]


def with_reasons(
    results: pd.DataFrame, items: Sequence[Mapping[str, Any] | None], labels: Mapping[str, str]
) -> pd.DataFrame:
    """The results with reason_1..reason_3 after the answer columns (empty where there is none)."""
    out = results.copy()
    reasons = [reasons_of(item, labels) for item in items]
    for i, column in enumerate(COLUMNS):
        out[column] = [r[i] if i < len(r) else "" for r in reasons]
    return out


class ExplanationLookup:
    """collect()'s lookup, over explanations: unfinished ones are asked again until they settle."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def lookup(self, request_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        return self.api.explanations(request_ids, top=TOP)


def wait_seconds(rows: int) -> float:
    return min(WAIT_BASE_SECONDS + WAIT_PER_ROW_SECONDS * rows, WAIT_MAX_SECONDS)


def show_reasons_control(outcome: dict[str, Any]) -> None:
    """A button that adds the top three reasons of each answered row to the results (and its CSV)."""
    results: pd.DataFrame = outcome["results"]
    statuses = zip(results["request_id"], results["status"], strict=True)
    answered = [rid for rid, status in statuses if status == "completed"]
    if outcome.get(REASONS_KEY) is not None:
        st.caption(outcome[REASONS_KEY])
        return
    if not answered or not st.button(
        "Add the top three reasons of each answer",
        icon=":material/psychology_alt:",
        help="Asks the listeners to explain each answer with the model version that gave it "
        "(exact, so a forest takes tens of milliseconds a row); adds reason_1 to reason_3 to the results.",
    ):
        return
    bar = st.progress(0.0, text="Explaining the answers…")

    def explained(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Explained: {done:,} of {total:,}")

    collected = collect(ExplanationLookup(client()), answered, wait_seconds(len(answered)), explained)
    if collected.error is not None:
        show_api_error(collected.error)
        return
    by_id = dict(zip(answered, collected.items, strict=True))
    items = [by_id.get(rid) for rid in results["request_id"]]
    outcome["results"] = with_reasons(results, items, feature_labels())
    ready = sum(1 for item in collected.items if item is not None and item.get("status") == "completed")
    failed = [item for item in collected.items if item is not None and item.get("status") == "failed"]
    note = f"Reasons added for {ready:,} of {len(answered):,} answered rows."
    if failed:
        note += f" {len(failed):,} could not be explained: {failed[0].get('detail')}"
    bar.progress(1.0, text=note)
    if ready + len(failed) < len(answered):
        # Not settled in time: the button stays; pressing it again fetches the rest.
        st.warning(note + " The rest are still being computed: press the button again in a moment.")
    else:
        outcome[REASONS_KEY] = note
        bar.empty()
        st.caption(note)
