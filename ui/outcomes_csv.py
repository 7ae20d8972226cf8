"""Outcomes CSV files: what really happened to employees, checked here before POST /outcomes.

One row per outcome: a `request_id` (from a results file) or a `subject_ref` (the employee reference sent
with the predictions), a `label` (1/0, yes/no, left/stayed, true/false) and, optionally, `observed_at`
(a date or a date and time; UTC when no zone is given; the upload time when the column is absent).
Pure functions: no I/O, no Streamlit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ui.batch_csv import Problem, read_csv
from ui.feature_schema import snake_case

MAX_ROWS = 50_000
CHUNK = 10_000  # outcomes per POST /outcomes (the API's limit)
LABELS = {
    "1": 1, "yes": 1, "left": 1, "leaver": 1, "true": 1, "attrition": 1,
    "0": 0, "no": 0, "stayed": 0, "stay": 0, "false": 0,
}  # fmt: skip
TEMPLATE = "request_id,subject_ref,label,observed_at\n,E-1001,1,2026-01-31\n,E-1002,0,2026-01-31\n"
COUNTS = ("items", "matched", "recorded", "corrected", "unchanged", "unknown")


@dataclass(frozen=True)
class CheckedOutcomes:
    items: list[dict[str, Any]]  # ready for POST /outcomes
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.items)


def check_outcomes_csv(data: bytes, now: datetime | None = None) -> CheckedOutcomes:
    """Read and check an outcomes file, naming the row and column of each problem."""
    try:
        frame = read_csv(data)
    except UnicodeDecodeError:
        return CheckedOutcomes([], [Problem(None, None, "", "the file is not UTF-8 text")])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, IndexError) as exc:
        return CheckedOutcomes([], [Problem(None, None, "", f"not a readable CSV file ({exc})")])
    return check_outcomes(frame, now or datetime.now(UTC))


def check_outcomes(frame: pd.DataFrame, now: datetime) -> CheckedOutcomes:
    columns = {snake_case(str(c)): c for c in frame.columns}
    problems = _file_problems(frame, columns)
    if problems:
        return CheckedOutcomes([], problems)
    items, problems = [], []
    for row, record in enumerate(frame.to_dict("records"), start=1):
        item, why = _item(record, columns, now)
        problems += [Problem(row, column, value, message) for column, value, message in why]
        items.append(item)
    return CheckedOutcomes(items, problems)


def _file_problems(frame: pd.DataFrame, columns: dict[str, str]) -> list[Problem]:
    problems = []
    if "request_id" not in columns and "subject_ref" not in columns:
        problems.append(Problem(None, None, "", "needs a request_id or a subject_ref column"))
    if "label" not in columns:
        problems.append(Problem(None, "label", "", "column is missing"))
    if frame.empty:
        problems.append(Problem(None, None, "", "the file has no data rows"))
    if len(frame) > MAX_ROWS:
        problems.append(Problem(None, None, "", f"{len(frame):,} rows; at most {MAX_ROWS:,} per upload"))
    return problems


def _item(
    record: dict[str, str], columns: dict[str, str], now: datetime
) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    def cell(name: str) -> str:
        return str(record[columns[name]]).strip() if name in columns else ""

    why: list[tuple[str, str, str]] = []
    item: dict[str, Any] = {}
    request_id, subject_ref = cell("request_id"), cell("subject_ref")
    if request_id:
        try:
            item["request_id"] = str(uuid.UUID(request_id))
        except ValueError:
            why.append((columns["request_id"], request_id, "not a request id"))
    elif subject_ref:
        item["subject_ref"] = subject_ref
    else:
        why.append(("request_id / subject_ref", "", "give a request_id or a subject_ref"))
    label = cell("label")
    if label.lower() in LABELS:
        item["label"] = LABELS[label.lower()]
    else:
        why.append((columns["label"], label, "label must be 1 (left) or 0 (stayed)"))
    observed = cell("observed_at")
    if not observed:
        item["observed_at"] = now.isoformat()
    else:
        moment = pd.to_datetime(observed, errors="coerce", utc=True)
        if pd.isna(moment):
            why.append((columns["observed_at"], observed, "not a date or date and time"))
        elif moment > now:
            why.append((columns["observed_at"], observed, "is in the future"))
        else:
            item["observed_at"] = moment.isoformat()
    return item, why


def chunks(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def add_counts(total: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The sum of two POST /outcomes answers (chunks of one file)."""
    out = {k: total.get(k, 0) + answer.get(k, 0) for k in COUNTS}
    for key in ("unknown_request_ids", "unknown_subject_refs"):
        out[key] = [*total.get(key, []), *answer.get(key, [])]
    out["horizon_days"] = answer.get("horizon_days", total.get("horizon_days"))
    return out


def with_subject_refs(frame: pd.DataFrame, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batch items carrying the predictions file's `subject_ref` column, where a row has one."""
    column = next((c for c in frame.columns if snake_case(str(c)) == "subject_ref"), None)
    if column is None:
        return items
    refs = [str(ref).strip() for ref in frame[column]]
    return [
        {"features": item, "subject_ref": ref} if ref else item for item, ref in zip(items, refs, strict=True)
    ]
