"""The Batch results file carries the top three reasons of each answer, in the analyst's words."""

from __future__ import annotations

from typing import Any

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.employees import EMPLOYEE
from tests.ui.conftest import APP, Stack
from ui.batch_reasons import reason_text, reasons_of, with_reasons

LABELS = {"over_time": "Over time", "monthly_income": "Monthly income"}


def test_a_reason_says_the_factor_the_direction_and_how_much_on_the_stated_scale() -> None:
    overtime = {"feature": "over_time", "value": "Yes", "contribution": 0.4234}
    assert reason_text(overtime, "log_odds", LABELS) == "Over time = Yes: raises the risk (+0.42 log-odds)"
    income = {"feature": "monthly_income", "value": 5993, "contribution": -0.031}
    assert reason_text(income, "probability", LABELS) == (
        "Monthly income = 5,993: lowers the risk (-3.1 points)"
    )


def test_rows_without_an_explanation_or_any_moving_factor_get_no_reasons() -> None:
    results = pd.DataFrame({"request_id": ["a", "b", "c"], "status": ["completed", "failed", "completed"]})
    constant = {
        "status": "completed",
        "explanation": {
            "scale": "probability",
            "contributions": [
                {"feature": "age", "value": 41, "contribution": 0.0},
            ],
        },
    }
    two = {
        "status": "completed",
        "explanation": {
            "scale": "log_odds",
            "contributions": [
                {"feature": "over_time", "value": "Yes", "contribution": 0.9},
                {"feature": "monthly_income", "value": 5993, "contribution": -0.2},
            ],
        },
    }
    assert reasons_of(constant, LABELS) == [] and reasons_of(None, LABELS) == []
    out = with_reasons(results, [two, None, constant], LABELS)
    assert list(out.columns) == ["request_id", "status", "reason_1", "reason_2", "reason_3"]
    assert list(out["reason_1"]) == ["Over time = Yes: raises the risk (+0.90 log-odds)", "", ""]
    assert list(out["reason_2"]) == ["Monthly income = 5,993: lowers the risk (-0.20 log-odds)", "", ""]
    assert list(out["reason_3"]) == ["", "", ""]


def test_batch_results_gain_the_top_three_reasons_of_each_answer(ui_env: Stack) -> None:
    rows: list[dict[str, Any]] = [
        {"employee_id": f"E{i}", **EMPLOYEE, "over_time": over_time, "age": age}
        for i, (over_time, age) in enumerate((("Yes", 22), ("No", 55), ("Yes", 40)))
    ]
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/batch.py").run()
    at.file_uploader[0].upload("team.csv", pd.DataFrame(rows).to_csv(index=False).encode(), "text/csv")
    at.run()
    next(b for b in at.button if b.label == "Send 3 predictions").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    add = next(b for b in at.button if b.label == "Add the top three reasons of each answer")
    add.click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert any("Reasons added for 3 of 3 answered rows." in c.value for c in at.caption)
    results = at.dataframe[-1].value
    assert {"employee_id", "reason_1", "reason_2", "reason_3"} <= set(results.columns)
    by_employee = results.set_index("employee_id")
    for employee_id in ("E0", "E1", "E2"):
        reasons = [by_employee.loc[employee_id, f"reason_{i}"] for i in (1, 2, 3)]
        assert all(" = " in r and "the risk (" in r for r in reasons), reasons
    # The stand-in model weighs age: the young employee's age raised the risk, the oldest one's lowered it.
    young = " ".join(by_employee.loc["E0", ["reason_1", "reason_2", "reason_3"]])
    old = " ".join(by_employee.loc["E1", ["reason_1", "reason_2", "reason_3"]])
    assert "Age = 22: raises the risk" in young and "Age = 55: lowers the risk" in old
