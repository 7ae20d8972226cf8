"""The frame around every page: sidebar with the service's status, and a guard against tracebacks."""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from ui.api_client import ApiError, client
from ui.feedback import show_api_error
from ui.settings import get_settings

log = logging.getLogger("ui")


@st.cache_data(ttl=5, show_spinner=False)
def _health(api_url: str) -> tuple[bool, str]:
    """(ready, what GET /health says): "ok"; "degraded" (serving, with a reason); or why not (503)."""
    try:
        status = client().health()["status"]
    except ApiError as err:
        return False, err.message
    return status == "ok", status


def sidebar() -> None:
    settings = get_settings()
    with st.sidebar:
        st.markdown("### :material/explore: Futurisys\nEmployee attrition predictions")
        ok, status = _health(settings.api_url)
        if ok:
            st.success(f"Service online · {status}", icon=":material/check_circle:")
        else:
            st.error(f"Service unavailable · {status}", icon=":material/error:")
        st.caption(f"API: `{settings.api_url}`")
        st.caption("API key: " + ("configured" if settings.api_key else "not set (FUTURISYS_API_KEY)"))


def header(title: str, subtitle: str) -> None:
    st.title(title)
    st.caption(subtitle)


def run_page(page: Any) -> None:
    """Run the selected page; an unexpected error becomes a sentence, and the log keeps the details."""
    try:
        page.run()
    except ApiError as err:
        show_api_error(err)
    except Exception as exc:
        log.exception("page %s failed", getattr(page, "title", "?"))
        st.error(
            f"**This page hit an unexpected problem** ({type(exc).__name__}). "
            "Reload the page; if it persists, the service logs have the details.",
            icon=":material/warning:",
        )
