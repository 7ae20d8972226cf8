"""The outcomes CSV on the Batch page and the Performance page, through Streamlit's AppTest against a real
API, listener and database; and the outcomes file check itself."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.employees import EMPLOYEE
from tests.ui.conftest import APP, Stack
from ui.outcomes_csv import check_outcomes_csv, with_subject_refs

TIMEOUT = 60  # a script run on a busy machine; a run ends when the script does
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(f"views/{page}.py").run()
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [a.value for kind in (at.error, at.warning, at.info, at.success) for a in kind]
    return "\n".join(str(p) for p in parts)


def csv_bytes(rows: list[dict]) -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode()


def performance(stack: Stack) -> dict:
    response = httpx.get(f"{stack.api_url}/monitoring/performance", timeout=15)
    response.raise_for_status()
    return response.json()


# -- the outcomes file check (no stack) ----------------------------------------------------------


def test_an_outcomes_file_becomes_items_for_the_api() -> None:
    rid = "0190f0a8-0000-7000-8000-000000000001"
    data = (
        "Request ID,Subject Ref,Label,Observed At\n"
        f"{rid},,1,2026-01-31\n,E-2,stayed,\n,E-3,Yes,2026-02-01T10:00\n"
    )
    checked = check_outcomes_csv(data.encode(), NOW)
    assert checked.ok, checked.problems
    assert checked.items == [
        {"request_id": rid, "label": 1, "observed_at": "2026-01-31T00:00:00+00:00"},
        {"subject_ref": "E-2", "label": 0, "observed_at": NOW.isoformat()},
        {"subject_ref": "E-3", "label": 1, "observed_at": "2026-02-01T10:00:00+00:00"},
    ]


def test_an_outcomes_file_names_row_and_column_of_each_problem() -> None:
    data = "request_id,label,observed_at\nnot-an-id,1,2026-01-01\n,maybe,2026-01-01\n,0,2999-01-01\n"
    problems = {(p.row, p.column, p.message) for p in check_outcomes_csv(data.encode(), NOW).problems}
    assert problems == {
        (1, "request_id", "not a request id"),
        (2, "request_id / subject_ref", "give a request_id or a subject_ref"),
        (2, "label", "label must be 1 (left) or 0 (stayed)"),
        (3, "request_id / subject_ref", "give a request_id or a subject_ref"),
        (3, "observed_at", "is in the future"),
    }
    missing = check_outcomes_csv(b"employee,observed_at\nE-1,2026-01-01\n", NOW).problems
    assert {p.message for p in missing} == {"needs a request_id or a subject_ref column", "column is missing"}


def test_a_predictions_file_with_subject_refs_sends_them_beside_the_features() -> None:
    frame = pd.DataFrame({"subject_ref": ["E-1", ""], "age": ["41", "30"]})
    items = with_subject_refs(frame, [{"age": 41}, {"age": 30}])
    assert items == [{"features": {"age": 41}, "subject_ref": "E-1"}, {"age": 30}]


# -- the pages -----------------------------------------------------------------------------------


def test_performance_says_plainly_that_no_outcome_was_posted(ui_env: Stack) -> None:
    ui_env.predict(EMPLOYEE, "dummy")
    at = open_page("performance")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "No outcome has been posted" in texts(at)
    assert "No outcome posted yet for its 1 prediction:" in texts(at)
    # What cannot be computed reads "—", in the cards and in the tables, never None or NaN.
    cards = {m.label: m.value for m in at.metric}
    assert cards["ROC-AUC"] == cards["Brier"] == "—", cards
    summary, live = at.dataframe[0].value, at.dataframe[-1].value
    assert set(summary["ROC-AUC"]) == {"—"} and set(live["live"]) == {"—"}
    assert live.map(lambda v: v is None or str(v) in ("None", "nan", "NaN")).sum().sum() == 0


def test_outcomes_uploaded_on_the_batch_page_show_on_the_performance_page(ui_env: Stack) -> None:
    rows = [{"subject_ref": f"E-{i}", **EMPLOYEE, "age": 20 + i} for i in range(30)]
    at = open_page("batch")
    at.file_uploader[0].upload("team.csv", csv_bytes(rows), "text/csv")
    at.run()
    next(b for b in at.button if b.label == "Send 30 predictions").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    outcomes = [{"subject_ref": f"E-{i}", "label": int(i % 3 == 0)} for i in range(30)]
    outcomes.append({"subject_ref": "E-ghost", "label": 1})
    at.file_uploader[1].upload("leavers.csv", csv_bytes(outcomes), "text/csv")
    at.run()
    at.button(key="outcomes_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Predictions matched"] == "30" and shown["Recorded"] == "30"
    assert shown["Matched nothing"] == "1" and "E-ghost" in set(at.dataframe[-1].value["not matched"])

    page = open_page("performance")
    assert not page.exception and not page.error, [e.value for e in page.error]
    served = next(m for m in performance(ui_env)["models"] if m["labelled"])
    assert served["labelled"] == 30 and served["positives"] == 10
    summary = page.dataframe[0].value
    row = summary[summary["labelled"] == 30].iloc[0]
    assert row["ROC-AUC"] == f"{served['roc_auc']:.3f}"
    assert "too few to judge" in texts(page)  # 30 labels, fewer than the 50 needed
    assert any(m.label == "ROC-AUC" and m.value == f"{served['roc_auc']:.3f}" for m in page.metric)


def test_performance_says_plainly_when_the_api_is_down(dead_api_url: str) -> None:
    at = open_page("performance")
    assert not at.exception
    assert any("prediction service is unavailable" in e.value for e in at.error)
