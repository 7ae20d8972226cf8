"""Requests as the History page shows them, as pure functions: table rows, picker labels, times,
feature order.

Times are shown in UTC with a 24-hour clock everywhere (table, detail, charts), and say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ui.models_and_schema import version_label

STATUSES = ("pending", "running", "completed", "failed")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
TAIL = 12  # hex digits at the end of a UUIDv7 id: random, so they tell requests of one millisecond apart


def requests_frame(items: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Requests as the API serves them (history, lookup), one row each, with times parsed and
    submit-to-result latency in ms."""
    rows = []
    for item in items:
        result = item["result"] or {}
        rows.append(
            {
                "request_id": item["request_id"],
                "created_at": item["created_at"],
                "model_name": item["model_name"],
                "status": item["status"],
                "prediction": result.get("prediction"),
                "probability": result.get("probability"),
                "model_version": result.get("model_version"),
                "finished_at": result.get("created_at"),
                "error": item["error"],
            }
        )
    columns = ["request_id", "created_at", "model_name", "status", "prediction", "probability"]
    columns += ["model_version", "finished_at", "error"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["created_at"] = utc_times(frame["created_at"])
    frame["finished_at"] = utc_times(frame["finished_at"])
    frame["probability"] = pd.to_numeric(frame["probability"], errors="coerce")
    frame["prediction"] = pd.to_numeric(frame["prediction"], errors="coerce").astype("Int64")
    frame["latency_ms"] = (frame["finished_at"] - frame["created_at"]).dt.total_seconds() * 1000
    return frame


def utc_times(values: pd.Series) -> pd.Series:
    """ISO 8601 texts as UTC timestamps (NaT where there is none)."""
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def short_id(request_id: str) -> str:
    """'01a237ed-2f25-7c30-a0a5-e57d39f1c2ab' → '…e57d39f1c2ab': a UUIDv7 starts with its timestamp,
    so requests sent together share their first characters and differ at the end."""
    text = str(request_id)
    return text if len(text) <= TAIL else "…" + text[-TAIL:]


def utc_time(value: Any) -> str:
    """'2026-12-02 18:03:40 UTC', or '—' when there is no time."""
    stamp = pd.to_datetime(value, utc=True, errors="coerce", format="ISO8601")
    return "—" if pd.isna(stamp) else f"{stamp:{TIME_FORMAT}}"


def request_label(row: Any) -> str:
    """How a request reads in the page's picker: distinguishing id, model, status, time."""
    when = "" if pd.isna(row.created_at) else f" · {row.created_at:%H:%M:%S} UTC"
    return f"{short_id(row.request_id)} · {row.model_name} · {row.status}{when}"


def history_table(frame: pd.DataFrame) -> pd.DataFrame:
    """requests_frame rows as the table shows them (UTC times, words for predictions, no None)."""
    return pd.DataFrame(
        {
            "submitted": frame["created_at"].dt.tz_convert("UTC"),
            "request_id": frame["request_id"],
            "model": frame["model_name"],
            "status": frame["status"],
            "prediction": frame["prediction"].map(
                lambda p: "" if pd.isna(p) else ("leaves" if p == 1 else "stays")
            ),
            "probability": frame["probability"],
            "version": frame["model_version"].map(
                lambda v: "" if v is None or pd.isna(v) else version_label(v)
            ),
            "latency_ms": frame["latency_ms"].round(1),
            "error": frame["error"].fillna(""),
        }
    )


def ordered_features(features: Mapping[str, Any], schema_names: Sequence[str]) -> list[tuple[str, Any]]:
    """(name, value) in the schema's order; names the schema does not know come last, as stored."""
    known = [(name, features[name]) for name in schema_names if name in features]
    return known + [(name, value) for name, value in features.items() if name not in schema_names]


def page_caption(page_number: int, first: int, shown: int, total: int | None, capped: bool = False) -> str:
    """'Page 2 · requests 51–100 of 204' (`first` counts from 1); without a total, only the range."""
    if shown == 0:
        return f"Page {page_number} · no requests"
    span = f"Page {page_number} · requests {first:,}–{first + shown - 1:,}"
    if total is None:
        return span
    return f"{span} of {total:,}{'+' if capped else ''}"
