"""The Models page's challenger section: a model scored in the shadow of the default, compared with it
on the same live requests (GET /models/compare). Promotions and rollbacks: ui/promotion_history.py."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui.api_client import client
from ui.feedback import fetch

ALPHA = 0.05
SIDES = {"primary_roc_auc": "default (answered clients)", "challenger_roc_auc": "challenger (shadow)"}


def auc_frame(figures: dict[str, Any]) -> pd.DataFrame:
    """The two ROC-AUCs on the same labelled requests, one row each (none computable: empty)."""
    rows = [
        {"model": label, "ROC-AUC": figures[key]}
        for key, label in SIDES.items()
        if figures.get(key) is not None
    ]
    return pd.DataFrame(rows, columns=["model", "ROC-AUC"])


def auc_chart(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("ROC-AUC:Q", scale=alt.Scale(domain=[0.5, 1.0], clamp=True)),
            y=alt.Y("model:N", title=None),
            color=alt.Color("model:N", legend=None),
            tooltip=["model", alt.Tooltip("ROC-AUC:Q", format=".3f")],
        )
        .properties(height=110)
    )


def verdict(figures: dict[str, Any], alpha: float = ALPHA) -> str:
    """One plain sentence: what the evidence says about promoting the challenger."""
    if figures.get("note"):
        return str(figures["note"])
    name, difference, p_value = figures["challenger"], figures["roc_auc_difference"], figures["p_value"]
    labelled = f"{figures['labelled']:,} labelled requests"
    if p_value is None:
        return f"The two ROC-AUCs on {labelled} cannot be told apart by the test (no variance)."
    better = "better" if difference > 0 else "worse"
    if p_value < alpha:
        return (
            f"{name} ranks the leavers significantly {better} than the default on {labelled} "
            f"(ROC-AUC {difference:+.3f}, p = {p_value:.3g})."
        )
    return (
        f"No significant difference on {labelled}: ROC-AUC {difference:+.3f}, p = {p_value:.3g} "
        f"(needs p < {alpha:g})."
    )


def comparison_panel(figures: dict[str, Any]) -> None:
    name = figures["challenger"]
    versions = ", ".join(figures.get("challenger_versions") or []) or "—"
    st.markdown(f"**{name}** (version {versions}) against the default, on the same requests")
    cols = st.columns(4)
    cols[0].metric("Paired requests", f"{figures['paired']:,}", border=True)
    agreement = figures.get("agreement")
    cols[1].metric("Same decision", "—" if agreement is None else f"{agreement:.1%}", border=True)
    gap = figures.get("mean_abs_difference")
    cols[2].metric("Mean |Δ probability|", "—" if gap is None else f"{gap:.3f}", border=True)
    p_value = figures.get("p_value")
    cols[3].metric("p-value (DeLong)", "—" if p_value is None else f"{p_value:.3g}", border=True)
    if figures.get("note"):
        st.warning(verdict(figures), icon=":material/balance:")
    else:
        st.info(verdict(figures), icon=":material/compare_arrows:")
    frame = auc_frame(figures)
    if not frame.empty:
        st.altair_chart(auc_chart(frame), width="stretch")
        st.caption(
            f"ROC-AUC of each on the {figures['labelled']:,} paired requests with a posted outcome "
            f"({figures['positives']:,} left). Errors in the shadow: {figures['shadow_errors']:,}."
        )


def section() -> None:
    """Challengers in the shadow of the default, each compared with it on the same requests."""
    st.subheader("Challengers in the shadow")
    shadows = fetch(client().shadows)
    if not shadows:
        st.caption(
            "No model runs in the shadow of the default. Start one with "
            "`python -m model_store shadow logistic`: it then scores every request the default answers, "
            "without the client ever seeing it."
        )
    for shadow in shadows:
        with st.container(border=True):
            comparison_panel(fetch(client().compare, shadow["model_name"]))
