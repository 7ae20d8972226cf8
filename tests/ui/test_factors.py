"""The factors chart: labelled in the analyst's words, coloured by direction, on Predict and History."""

from __future__ import annotations

from typing import Any

import psycopg
from streamlit.testing.v1 import AppTest

from tests.employees import EMPLOYEE
from tests.ui.conftest import APP, Stack
from ui.factors import RAISES, factors_chart, factors_frame, factors_sentence, scale_caption, value_text

LABELS = {"over_time": "Over time", "monthly_income": "Monthly income", "business_travel": "Business travel"}
EXPLANATION: dict[str, Any] = {
    "scale": "log_odds",
    "contributions": [
        {"feature": "over_time", "value": "Yes", "contribution": 0.9},
        {"feature": "monthly_income", "value": 5993, "contribution": -0.4},
        {"feature": "business_travel", "value": "Travel_Rarely", "contribution": 0.1},
        {"feature": "age", "value": 41, "contribution": 0.0},
    ],
}


def test_factors_are_labelled_with_the_employees_value_most_raising_first() -> None:
    frame = factors_frame(EXPLANATION, LABELS)
    assert list(frame["factor"]) == [
        "Over time = Yes",
        "Business travel = Travel rarely",
        "Monthly income = 5,993",
    ]
    assert list(frame["effect"]) == ["raises the risk", "raises the risk", "lowers the risk"]
    assert "age" not in " ".join(frame["factor"]).lower(), "a feature that moved nothing is not a factor"


def test_the_sentence_names_what_raised_and_what_lowered_the_risk_most() -> None:
    assert factors_sentence(EXPLANATION, LABELS) == (
        "**Over time = Yes** raised the risk most; **Monthly income = 5,993** lowered it most."
    )
    lowering_only = {"contributions": [{"feature": "over_time", "value": "No", "contribution": -0.5}]}
    assert factors_sentence(lowering_only, LABELS) == "**Over time = No** lowered the risk most."
    nothing = {"contributions": [{"feature": "age", "value": 41, "contribution": 0.0}]}
    assert "answers the same for every employee" in factors_sentence(nothing, LABELS)


def test_the_chart_colours_raising_factors_red_and_lowering_ones_green() -> None:
    spec = factors_chart(factors_frame(EXPLANATION, LABELS), "log_odds").to_dict()
    assert spec["encoding"]["color"]["scale"]["range"][0] == RAISES
    assert spec["encoding"]["y"]["sort"] == [
        "Over time = Yes",
        "Business travel = Travel rarely",
        "Monthly income = 5,993",
    ]
    assert "log-odds" in spec["encoding"]["x"]["title"]
    axis = spec["encoding"]["x"]["axis"]
    assert axis["tickCount"] <= 8 and axis["format"] == "+.1f", "a few readable ticks, not 23 of '+0.05'"


def test_values_read_as_words_and_grouped_numbers() -> None:
    assert [value_text(v) for v in ("Travel_Rarely", 12000, 2.5, "Yes")] == [
        "Travel rarely",
        "12,000",
        "2.5",
        "Yes",
    ]


def sentence(at: AppTest) -> str:
    return "\n".join(
        m.value for m in at.markdown if "the risk most" in m.value or "lowered it most" in m.value
    )


def test_predict_shows_the_top_factors_of_the_answer(ui_env: Stack) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox(key="feature_over_time").set_value("Yes")
    at.selectbox[0].set_value("logistic")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert "**Works overtime = Yes** raised the risk most" in sentence(at)
    assert len(at.get("vega_lite_chart")) == 2, "the probability gauge and the factors chart"


def test_history_detail_shows_the_factors_of_the_request(ui_env: Stack) -> None:
    made = ui_env.predict({**EMPLOYEE, "over_time": "No", "marital_status": "Single"}, model_name="logistic")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/history.py").run()
    at.text_input(key="history_typed").set_value(made["request_id"]).run()
    assert not at.exception and not at.error
    text = sentence(at)
    assert "**Marital status = Single** raised the risk most" in text
    assert "**Age = 41** lowered it most" in text
    assert len(at.get("vega_lite_chart")) == 1


def test_the_dummy_says_no_feature_moved_its_answer(ui_env: Stack) -> None:
    made = ui_env.predict(EMPLOYEE, model_name="dummy")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/history.py").run()
    at.text_input(key="history_typed").set_value(made["request_id"]).run()
    assert any("no feature moved its answer" in m.value for m in at.markdown)


def test_the_chart_keeps_the_strongest_factors_of_each_direction() -> None:
    ups = [{"feature": f"u{i}", "value": i, "contribution": 2.0 - i / 10} for i in range(10)]
    downs = [{"feature": f"d{i}", "value": i, "contribution": -0.1 + i / 100} for i in range(3)]
    frame = factors_frame({"contributions": ups + downs}, {})
    assert len(frame) == 8
    assert list(frame["effect"]) == ["raises the risk"] * 6 + ["lowers the risk"] * 2
    assert frame["factor"].iloc[-1] == "D0 = 0", "the most lowering factor comes last"
    # When lowering factors are the big ones, they are not cut down to two.
    big_downs = [{"feature": f"d{i}", "value": i, "contribution": -3.0 + i / 10} for i in range(7)]
    frame = factors_frame({"contributions": big_downs + ups[:3]}, {})
    assert list(frame["effect"]).count("lowers the risk") == 6


def test_values_of_every_kind_read_plainly() -> None:
    values = (True, None, 0.123456, 1234567.0, 5993.0, 1234.56)
    assert [value_text(v) for v in values] == ["True", "None", "0.1235", "1,234,567", "5,993", "1,235"]


def test_the_caption_says_what_the_bars_add_up_to_on_either_scale() -> None:
    log_odds = {"scale": "log_odds", "base_value": -1.5, "output": 0.4, "method": "linear_log_odds",
                "model_version": "c314b00abf6e0123"}  # fmt: skip
    text = scale_caption(log_odds)
    assert "log-odds of leaving" in text
    assert "from 18% for an average employee (-1.50) to 59.9% for this one (+0.40)" in text
    assert "weight of the model times how far the employee is from the training average" in text
    assert text.endswith("model version c314b00abf6e.")
    probability = {"scale": "probability", "base_value": 0.16, "output": 0.42, "method": "tree_shap",
                   "model_version": "034e0eea55a8"}  # fmt: skip
    text = scale_caption(probability)
    assert "percentage points" in text
    assert "from 16%, its average answer over the training data, to 42.0% for this employee" in text
    assert "exact Shapley values of the forest (TreeSHAP)" in text


def open_history(request_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/history.py").run()
    at.text_input(key="history_typed").set_value(request_id).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_answer_whose_version_is_gone_says_why_it_has_no_factors(ui_env: Stack) -> None:
    made = ui_env.predict(EMPLOYEE, model_name="logistic")
    with psycopg.connect(ui_env.db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE prediction_results SET model_version = 'retired0001' FROM prediction_requests r"
            " WHERE r.id = prediction_results.request_id AND r.request_id = %s",
            [made["request_id"]],
        )
    at = open_history(made["request_id"])
    warnings = [w.value for w in at.warning]
    assert any(
        w.startswith("No explanation for this request:") and "retired0001 is no longer registered" in w
        for w in warnings
    ), warnings
    assert len(at.get("vega_lite_chart")) == 0


def test_an_explanation_still_being_computed_says_so_and_to_come_back(ui_env: Stack) -> None:
    made = ui_env.predict(EMPLOYEE, model_name="logistic")
    with psycopg.connect(ui_env.db_url, autocommit=True) as conn:
        # Held by a listener that is busy for the next hour: asking again waits, then gets a 202.
        conn.execute(
            "INSERT INTO explanation_requests (request_id, status, claimed_by, lease_until, attempts)"
            " SELECT id, 'running', 'busy:1:0', now() + interval '1 hour', 1"
            " FROM prediction_requests WHERE request_id = %s",
            [made["request_id"]],
        )
    at = open_history(made["request_id"])
    infos = [i.value for i in at.info]
    assert any("not ready yet (explanation being computed)" in i and "in a moment" in i for i in infos), infos
