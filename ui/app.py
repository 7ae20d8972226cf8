"""Futurisys attrition dashboard: `streamlit run ui/app.py`. Talks to the API only, keeps no state."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run ui/app.py` puts ui/ (not the project root) on sys.path; the ui package needs the root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from ui import layout  # noqa: E402

HERE = Path(__file__).resolve().parent

st.set_page_config(
    page_title="Futurisys · Attrition predictions",
    # A file of our own, sent inline: an emoji or :material: favicon is fetched from a public font host.
    page_icon=str(HERE / "favicon.svg"),
    layout="wide",
    initial_sidebar_state="expanded",
)

PAGES = [
    st.Page(
        HERE / "views" / "predict.py", title="Predict", icon=":material/online_prediction:", default=True
    ),
    st.Page(HERE / "views" / "batch.py", title="Batch", icon=":material/upload_file:"),
    st.Page(HERE / "views" / "history.py", title="History", icon=":material/history:"),
    st.Page(HERE / "views" / "monitoring.py", title="Monitoring", icon=":material/monitoring:"),
    st.Page(HERE / "views" / "performance.py", title="Performance", icon=":material/target:"),
    st.Page(HERE / "views" / "models.py", title="Models", icon=":material/neurology:"),
]

page = st.navigation(PAGES)
layout.sidebar()
layout.run_page(page)
