"""What every page reads of the API's catalogue: the feature schema and the deployed models, fetched
once per short while, and how a model and its version are named on a page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.api_client import client
from ui.feature_schema import Schema, parse_metadata
from ui.settings import get_settings

CATALOGUE_TTL_SECONDS = 30


@st.cache_data(ttl=CATALOGUE_TTL_SECONDS, show_spinner=False)
def _metadata(api_url: str) -> dict[str, Any]:
    return client().metadata()


@st.cache_data(ttl=CATALOGUE_TTL_SECONDS, show_spinner=False)
def _models(api_url: str) -> list[dict[str, Any]]:
    return client().models()


def load_schema() -> Schema:
    """The served feature schema (raises ApiError when the API cannot give it)."""
    return parse_metadata(_metadata(get_settings().api_url))


def load_metadata() -> dict[str, Any]:
    return _metadata(get_settings().api_url)


def load_models() -> list[dict[str, Any]]:
    """Models as served, the default first, then by name."""
    models = _models(get_settings().api_url)
    return sorted(models, key=lambda m: (not m["default"], m["name"]))


def default_model(models: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The default model; the first when none is promoted yet; None when none is deployed."""
    return next((m for m in models if m["default"]), models[0] if models else None)


def model_label(model: dict[str, Any]) -> str:
    text = f"{model['name']} · {version_label(model['version'])}"
    return text + "  (default)" if model["default"] else text


def model_threshold(models: list[dict[str, Any]], name: str | None, fallback: float) -> float:
    """Model `name`'s decision threshold; `fallback` (the default model's) when it is no longer served."""
    model = next((m for m in models if m["name"] == name), None)
    return float(model["threshold"]) if model else fallback


def version_label(version: str) -> str:
    """'3' → 'v3'; a version that does not start with a digit ('v3', 'e04-…') as it is."""
    return f"v{version}" if version[:1].isdigit() else version
