"""The Models page's promotion history: which version became the answering one, when, by whom, why.

Read from the API's audit trail (GET /audit, the model events a `read` key may see).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from ui.api_client import ApiAuthError, ApiClient, ApiError

PROMOTION_ACTIONS = ("model.promoted", "model.rolled_back")
CHANGE = {"model.promoted": "promoted", "model.rolled_back": "rolled back"}
COLUMNS = ["when", "model", "change", "from version", "to version", "by", "reason"]
SHOWN = 50


def when(value: object) -> str:
    """'2026-12-02 18:03:40 UTC' (24-hour clock, UTC), or '—'."""
    stamp = pd.to_datetime(value, utc=True, errors="coerce")
    return "—" if pd.isna(stamp) else f"{stamp:%Y-%m-%d %H:%M:%S} UTC"


def promotion_rows(events: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Audit events as the table shows them, newest first; '—' where a fact is missing."""
    rows = []
    for event in events:
        details = event.get("details") or {}
        rows.append(
            {
                "when": when(event.get("at")),
                "model": event.get("subject") or "—",
                "change": CHANGE.get(str(event.get("action")), str(event.get("action"))),
                "from version": details.get("from_version") or "—",
                "to version": details.get("to_version") or "—",
                "by": event.get("actor") or "—",
                "reason": details.get("reason") or "—",
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def show_promotions(api: ApiClient) -> None:
    """The section itself: a table, or one sentence saying why there is none."""
    st.subheader("Promotions and rollbacks")
    try:
        page = api.audit(actions=PROMOTION_ACTIONS, limit=SHOWN)
    except ApiAuthError as err:
        said = err.detail if isinstance(err.detail, str) else err.message
        st.info(
            "The promotion history needs an API key with scope read or admin"
            f" (FUTURISYS_API_KEY). The API said: {said}",
            icon=":material/key_off:",
        )
        return
    except ApiError as err:
        st.warning(f"The promotion history is not available: {err.message}", icon=":material/history:")
        return
    events = page.get("items", [])
    if not events:
        st.caption(
            "No promotion or rollback recorded yet: each deployed model still answers with its first version."
        )
        return
    st.caption(
        f"The last {len(events)} changes of the answering version, newest first, from the audit trail."
    )
    st.dataframe(promotion_rows(events), hide_index=True, width="stretch")
