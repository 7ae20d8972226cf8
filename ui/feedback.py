"""How API failures look on a page: one plain sentence, a hint, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

import streamlit as st

from ui.api_client import ApiAuthError, ApiError, ApiNotFound, ApiRejected, ApiUnavailable

T = TypeVar("T")


def show_api_error(err: ApiError) -> None:
    if isinstance(err, ApiUnavailable):
        st.error(f"**The prediction service is unavailable.** {err.message}", icon=":material/cloud_off:")
    elif isinstance(err, ApiAuthError):
        st.error(f"**Access refused.** {err.message}", icon=":material/key_off:")
    elif isinstance(err, ApiRejected):
        st.error("**The service rejected this input.**", icon=":material/warning:")
        for line in err.problems[:20]:
            st.markdown(f"- {line}")
    elif isinstance(err, ApiNotFound):
        st.warning(err.message, icon=":material/search_off:")
    else:
        st.error(f"**Something went wrong on the service side.** {err.message}", icon=":material/warning:")


def stop_with(err: ApiError) -> NoReturn:
    show_api_error(err)
    st.stop()


def fetch(call: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run an API call; on failure show why on the page and stop rendering it."""
    try:
        return call(*args, **kwargs)
    except ApiError as err:
        stop_with(err)
