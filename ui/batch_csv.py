"""Batch CSV files: the template, the check against the schema before sending, the results file."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ui.feature_schema import Schema, coerce_value, snake_case

MAX_ROWS = 50_000
MAX_PROBLEMS_LISTED = 500


@dataclass(frozen=True)
class Problem:
    row: int | None  # 1 = the first line after the header; None for a problem with the whole file
    column: str | None
    value: str
    message: str


@dataclass(frozen=True)
class CheckedFile:
    frame: pd.DataFrame  # the file as read, every cell as text
    items: list[dict[str, Any]]  # one feature dict per row, coerced to the schema's types
    problems: list[Problem]
    extra_columns: list[str]  # kept in the results file, not sent

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.items)


def template_csv(schema: Schema, rows: int = 1) -> bytes:
    """A CSV with every feature column and `rows` rows of defaults: a starting point to fill in."""
    frame = pd.DataFrame([schema.defaults()] * rows, columns=schema.names)
    return frame.to_csv(index=False).encode()


def read_csv(data: bytes) -> pd.DataFrame:
    """Every cell as text (the check decides what is a number), delimiter sniffed (, or ;)."""
    text = data.decode("utf-8-sig")
    first = text.splitlines()[0] if text.strip() else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)


def check_csv(data: bytes, schema: Schema) -> CheckedFile:
    """Read and check a CSV against the schema, naming the row and column of each problem."""
    empty = pd.DataFrame()
    try:
        frame = read_csv(data)
    except UnicodeDecodeError:
        return CheckedFile(empty, [], [Problem(None, None, "", "the file is not UTF-8 text")], [])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, IndexError) as exc:
        return CheckedFile(empty, [], [Problem(None, None, "", f"not a readable CSV file ({exc})")], [])
    return check_frame(frame, schema)


def check_frame(frame: pd.DataFrame, schema: Schema) -> CheckedFile:
    columns = _match_columns(list(frame.columns), schema)
    file_problems = _file_problems(frame, columns, schema)
    if file_problems:
        return CheckedFile(frame, [], file_problems, [])
    features = schema.by_name()
    problems: list[Problem] = []
    items: list[dict[str, Any]] = []
    for row_number, record in enumerate(frame.to_dict("records"), start=1):
        item = {}
        for name, column in columns.items():
            value, why = coerce_value(features[name], record[column])
            if why:
                problems.append(Problem(row_number, column, str(record[column]), why))
            item[name] = value
        items.append(item)
    extra = [c for c in frame.columns if c not in columns.values()]
    return CheckedFile(frame, items, problems, extra)


def _match_columns(headers: Sequence[str], schema: Schema) -> dict[str, str]:
    """Feature name → the file's column for it; case, spaces and CamelCase are forgiven."""
    by_key = {}
    for header in headers:
        by_key.setdefault(snake_case(str(header)), header)
    return {name: by_key[name] for name in schema.names if name in by_key}


def _file_problems(frame: pd.DataFrame, columns: Mapping[str, str], schema: Schema) -> list[Problem]:
    missing = [n for n in schema.names if n not in columns]
    problems = [Problem(None, name, "", "column is missing") for name in missing]
    if frame.empty:
        problems.append(Problem(None, None, "", "the file has no data rows"))
    if len(frame) > MAX_ROWS:
        problems.append(Problem(None, None, "", f"{len(frame):,} rows; at most {MAX_ROWS:,} per upload"))
    return problems


def problems_frame(problems: Sequence[Problem]) -> pd.DataFrame:
    rows = [
        {
            "row": p.row if p.row is not None else "—",
            "column": p.column or "—",
            "value": p.value,
            "problem": p.message,
        }
        for p in problems[:MAX_PROBLEMS_LISTED]
    ]
    return pd.DataFrame(rows, columns=["row", "column", "value", "problem"])


def results_frame(frame: pd.DataFrame, requests: Sequence[Mapping[str, Any] | None]) -> pd.DataFrame:
    """The uploaded rows, in order, followed by request id, status, prediction and probability."""
    out = frame.reset_index(drop=True).copy()
    out["request_id"] = [r.get("request_id") if r else None for r in requests]
    out["status"] = [r.get("status") if r else "unknown" for r in requests]
    results = [(r or {}).get("result") or {} for r in requests]
    out["prediction"] = pd.array([res.get("prediction") for res in results], dtype="Int64")
    out["probability"] = [res.get("probability") for res in results]
    out["model_version"] = [res.get("model_version") or "" for res in results]
    # Empty, not None: the table would show "None" and the file "nan" for every row that succeeded.
    out["error"] = [(r or {}).get("error") or "" for r in requests]
    return out
