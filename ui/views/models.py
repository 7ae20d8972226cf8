"""Models: what is deployed, which is the default, and how each scored on held-out data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from ui import challengers, charts
from ui.api_client import client
from ui.feedback import fetch
from ui.gate_notice import gate_notice
from ui.layout import header
from ui.models_and_schema import load_models, version_label
from ui.promotion_history import show_promotions

HEADLINE = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
}
CARDS_PER_ROW = 2


def headline(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """The five metrics people compare: the cross-validation means training registers (a single held-out
    split is too noisy to compare models on); None for a model registered without them (the stand-ins)."""
    cv = metrics.get("cv", {})
    return {k: cv[k]["mean"] if cv else None for k in HEADLINE}


def card(model: dict[str, Any]) -> None:
    with st.container(border=True):
        badge = "  :green-badge[:material/star: default]" if model["default"] else ""
        st.markdown(f"### {model['name']}{badge}")
        scores = headline(model["metrics"])
        st.markdown(f"Version **`{model['version']}`** · decision threshold **{model['threshold']:.2f}**")
        for col, key in zip(st.columns(4), ("roc_auc", "pr_auc", "f1", "recall"), strict=True):
            col.metric(HEADLINE[key], fmt_score(scores[key]))
        st.caption("SHA-256 of the artifact that answers")
        st.code(model["sha256"] or "—", language=None, wrap_lines=True)
        shown = ("name", "version", "default", "threshold", "sha256")
        with st.expander("All details"):
            st.json({k: v for k, v in model.items() if k not in shown}, expanded=True)


def fmt_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def metrics_table(models: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for m in models:
        scores = headline(m["metrics"])
        rows.append({"model": m["name"], **{HEADLINE[k]: v for k, v in scores.items()}})
    return pd.DataFrame(rows)


def comparison(models: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for m in models:
        for key, value in headline(m["metrics"]).items():
            if value is not None:
                rows.append({"model": m["name"], "metric": HEADLINE[key], "value": value})
    return pd.DataFrame(rows, columns=["model", "metric", "value"])


def main() -> None:
    header(
        "Models",
        "Every deployed model, its exact artifact, and how it scored in repeated cross-validation "
        "(the mean over 50 folds; intervals in the model card).",
    )
    models = fetch(load_models)
    if not models:
        st.warning(
            "No model is deployed yet. Run `python -m model_store` to train and register them.",
            icon=":material/model_training:",
        )
        return
    default = next((m for m in models if m["default"]), None)
    if default:
        st.info(
            f"Requests that name no model go to **{default['name']}** ({version_label(default['version'])}).",
            icon=":material/star:",
        )
    notice = gate_notice(models)
    if notice:
        st.success(notice, icon=":material/trending_up:")
    data = comparison(models)
    if not data.empty:
        st.subheader("Metrics compared (cross-validation means)")
        st.altair_chart(charts.metrics_chart(data), width="content")
        score = st.column_config.NumberColumn(format="%.3f")
        st.dataframe(  # full width: in a side column its last metrics were cut ("Prec…")
            metrics_table(models),
            hide_index=True,
            width="stretch",
            column_config={label: score for label in HEADLINE.values()},
        )
    st.subheader("Deployed models")
    for start in range(0, len(models), CARDS_PER_ROW):
        cols = st.columns(CARDS_PER_ROW)
        for col, model in zip(cols, models[start : start + CARDS_PER_ROW], strict=False):
            with col:
                card(model)
    challengers.section()
    show_promotions(client())


main()
