"""Every dashboard page, driven through Streamlit's AppTest against a real API, listener and database."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.employees import EMPLOYEE
from tests.ui.conftest import APP, Stack
from ui.api_client import ApiClient, ApiRejected
from ui.feature_schema import plain_words

FEATURES = len(EMPLOYEE)
TIMEOUT = 60  # a script run on a busy machine; a run ends when the script does


def open_page(page: str | None = None) -> AppTest:
    """The app as a browser session would see it: run the entry point, then go to `page`."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    return at


def texts(at: AppTest) -> str:
    """Everything readable on the page, in one string."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [a.value for kind in (at.error, at.warning, at.info, at.success) for a in kind]
    parts += [f"{m.label}: {m.value}" for m in at.metric] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def frames(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def csv_bytes(rows: list[dict]) -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode()


# -- Predict -------------------------------------------------------------------------------------


def test_predict_form_is_built_from_the_served_schema(ui_env: Stack) -> None:
    at = open_page()
    assert_clean(at)
    model = at.selectbox[0]
    assert model.label == "Model"
    assert model.value == "random_forest_e04", "the default model is preselected"
    assert {o.split(" · ")[0] for o in model.options} == {
        "dummy",
        "logistic",
        "random_forest",
        "random_forest_e04",
    }
    inputs = [w for w in (*at.selectbox, *at.number_input) if w.key and w.key.startswith("feature_")]
    assert len(inputs) == FEATURES
    travel = at.selectbox(key="feature_business_travel")
    assert travel.options == ["No travel", "Travel rarely", "Travel frequently"], "words, not spellings"
    assert travel.value == "Travel_Rarely", "the API still gets the data set's spelling"
    # Every label and choice reads as words: no snake_case, no column-name abbreviations.
    readable = [w.label for w in inputs] + [o for w in inputs if hasattr(w, "options") for o in w.options]
    assert [t for t in readable if "_" in t] == []
    assert at.number_input(key="feature_years_with_curr_manager").label == "Years with the current manager"
    age = at.number_input(key="feature_age")
    assert (age.min, age.max) == (18, 70) and 18 <= age.value <= 70
    assert "Age in years." in age.help


def test_predict_submits_and_shows_class_probability_version_and_time(ui_env: Stack) -> None:
    at = open_page()
    at.selectbox(key="feature_over_time").set_value("Yes")
    at.number_input(key="feature_age").set_value(29)
    at.selectbox[0].set_value("logistic")
    at.button[0].click().run()
    assert_clean(at)
    page = texts(at)
    assert "Likely to leave" in page or "Likely to stay" in page
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Probability of leaving"].endswith("%")
    assert metrics["Submit → result"].endswith(" ms")
    assert "model **logistic**" in page
    assert "Answered by version" in page
    assert len(at.get("vega_lite_chart")) == 2, "the probability gauge and the factors chart"


def test_reset_brings_back_the_typical_values(ui_env: Stack) -> None:
    at = open_page()
    typical = at.number_input(key="feature_age").value
    at.number_input(key="feature_age").set_value(typical + 5).run()
    next(b for b in at.button if b.label == "Reset to typical values").click().run()
    assert at.number_input(key="feature_age").value == typical


def test_predict_with_a_wrong_key_says_the_key_was_refused(
    ui_env: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUTURISYS_API_KEY", "not-a-real-key")
    at = open_page()
    at.button[0].click().run()
    assert not at.exception
    refused = [e.value for e in at.error if "Access refused" in e.value]
    assert refused, texts(at)
    # The API's own reason, not a generic guess, then what to do about it.
    assert "401: invalid X-API-Key" in refused[0] and "FUTURISYS_API_KEY" in refused[0]


# -- Batch ---------------------------------------------------------------------------------------


def test_batch_names_row_and_column_of_each_problem_and_sends_nothing(ui_env: Stack) -> None:
    rows = [
        dict(EMPLOYEE),
        {**EMPLOYEE, "age": 150},
        {**EMPLOYEE, "job_role": "Astronaut", "job_level": "two"},
    ]
    at = open_page("batch")
    at.file_uploader[0].upload("team.csv", csv_bytes(rows), "text/csv")
    at.run()
    assert not at.exception
    assert any("3 problem(s)" in e.value for e in at.error), texts(at)
    problems = frames(at)[-1]
    found = {(int(r.row), r.column) for r in problems.itertuples()}
    assert found == {(2, "age"), (3, "job_role"), (3, "job_level")}
    assert not [b for b in at.button if b.label.startswith("Send")]


def test_batch_reports_missing_columns(ui_env: Stack) -> None:
    at = open_page("batch")
    at.file_uploader[0].upload("partial.csv", b"age,gender\n30,Male\n", "text/csv")
    at.run()
    problems = frames(at)[-1]
    assert "monthly_income" in set(problems["column"])
    assert set(problems["problem"]) == {"column is missing"}


def test_batch_sends_a_valid_file_and_offers_the_results(ui_env: Stack) -> None:
    rows = [{"employee_id": f"E{i}", **EMPLOYEE, "age": 25 + i} for i in range(5)]
    at = open_page("batch")
    at.file_uploader[0].upload("team.csv", csv_bytes(rows), "text/csv")
    at.run()
    assert_clean(at)
    assert any("is valid" in s.value for s in at.success)
    send = next(b for b in at.button if b.label == "Send 5 predictions")
    send.click().run()
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "5" and metrics["Completed"] == "5", metrics
    assert any(d.label == "Download results (CSV)" for d in at.get("download_button"))
    results = frames(at)[-1]
    assert {"employee_id", "request_id", "status", "prediction", "probability"} <= set(results.columns)
    assert results["probability"].between(0, 1).all()
    assert set(results["employee_id"]) == {f"E{i}" for i in range(5)}
    assert (results["error"] == "").all(), "succeeded rows have an empty error, not 'None'"
    assert list(results["probability"]) == sorted(results["probability"], reverse=True)
    assert progress(at) == [100] and "Done: 5 rows sent and 5 answered" in at.get("progress")[0].proto.text
    # Any later rerun (here: file order instead of risk order) keeps the finished bar and one ordering.
    riskiest = [t for t in at.toggle if t.label == "Highest risk first"]
    assert len(riskiest) == 1 and riskiest[0].value is True
    riskiest[0].set_value(False).run()
    assert_clean(at)
    assert progress(at) == [100]
    assert [t.label for t in at.toggle].count("Highest risk first") == 1
    assert list(frames(at)[-1]["employee_id"]) == [f"E{i}" for i in range(5)], "the file's order"


def progress(at: AppTest) -> list[int]:
    """The page's progress bars, in percent."""
    return [p.proto.value for p in at.get("progress")]


def test_a_batch_the_api_rejects_names_the_item_and_field_once(ui_env: Stack) -> None:
    items = [dict(EMPLOYEE)] * 3 + [{**EMPLOYEE, "age": 150}]
    with pytest.raises(ApiRejected) as caught:
        ApiClient.from_settings().submit_batch(items, None)
    [problem] = caught.value.problems
    assert problem.startswith("items.3.age: ") and problem.count("items.3.age") == 1, problem
    assert "body" not in problem and "150" in problem, problem


def test_batch_template_matches_the_schema(ui_env: Stack) -> None:
    at = open_page("batch")
    assert_clean(at)
    assert any(d.label == "Download the CSV template" for d in at.get("download_button"))
    allowed = frames(at)[0]
    assert list(allowed["column"]) == list(EMPLOYEE)


# -- History -------------------------------------------------------------------------------------


def test_history_lists_requests_and_opens_one(ui_env: Stack) -> None:
    made = ui_env.predict({**EMPLOYEE, "age": 33}, model_name="dummy")
    at = open_page("history")
    assert_clean(at)
    table = frames(at)[0]
    assert made["request_id"] in set(table["request_id"])
    at.selectbox(key="history_pick").set_value(made["request_id"]).run()
    assert_clean(at)
    assert f"Request `{made['request_id']}`" in texts(at)
    features = pd.concat(frames(at)[-2:])
    assert list(features["feature"]) == [plain_words(n) for n in EMPLOYEE], "the schema's order, in words"
    shown = dict(zip(features["feature"], features["value"], strict=True))
    assert (shown["Age"], shown["Works overtime"]) == ("33", EMPLOYEE["over_time"])
    assert "Submitted 20" in texts(at) and texts(at).count(" UTC") >= 2, texts(at)
    assert {m.label for m in at.metric} >= {
        "Status",
        "Prediction",
        "Probability of leaving",
        "Submit → result",
    }
    assert "Model **dummy**" in texts(at)


def test_history_picker_tells_apart_requests_sent_together(ui_env: Stack) -> None:
    body = {"model_name": "logistic", "items": [{**EMPLOYEE, "age": 20 + i} for i in range(20)]}
    headers = {"X-API-Key": ui_env.api_key}
    httpx.post(f"{ui_env.api_url}/predictions/batch", json=body, headers=headers, timeout=30)
    at = open_page("history")
    assert_clean(at)
    picker = at.selectbox(key="history_pick")
    labels = list(picker.options)  # as the page shows them
    assert len(labels) >= 20 and len(set(labels)) == len(labels), labels
    assert frames(at)[0]["submitted"].dt.tz is not None, "table times carry their zone"


def test_history_says_how_many_requests_match_over_all_pages(ui_env: Stack) -> None:
    for age in (21, 22, 23):
        ui_env.predict({**EMPLOYEE, "age": age}, model_name="random_forest")
    matching = len(httpx.get(
        f"{ui_env.api_url}/predictions/history", params={"model": "random_forest", "limit": 500},
        headers={"X-API-Key": ui_env.api_key}, timeout=10,
    ).json()["items"])  # fmt: skip
    at = open_page("history")
    at.selectbox(key="history_model").set_value("random_forest").run()
    at.selectbox(key="history_limit").set_value(50).run()
    assert_clean(at)
    assert f"Page 1 · requests 1–{min(matching, 50)} of {matching}" in texts(at), texts(at)


def test_history_filters_by_model_and_status(ui_env: Stack) -> None:
    ui_env.predict(EMPLOYEE, model_name="random_forest")
    at = open_page("history")
    at.selectbox(key="history_model").set_value("random_forest").run()
    assert set(frames(at)[0]["model"]) == {"random_forest"}
    at.selectbox(key="history_status").set_value("failed").run()
    assert_clean(at)
    assert any("No requests match" in i.value for i in at.info)


def test_history_says_so_for_an_unknown_request_id(ui_env: Stack) -> None:
    at = open_page("history")
    at.text_input(key="history_typed").set_value("00000000-0000-0000-0000-000000000000").run()
    assert not at.exception
    assert any("No request" in w.value for w in at.warning)


# -- Monitoring ----------------------------------------------------------------------------------


def test_monitoring_shows_traffic_latency_statuses_and_probabilities(ui_env: Stack) -> None:
    for age in (30, 40, 50):
        ui_env.predict({**EMPLOYEE, "age": age}, model_name="logistic")
    at = open_page("monitoring")
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Requests"].replace(",", "")) >= 3
    assert metrics["Latency p50"].endswith("ms")
    assert metrics["Listeners alive"] not in ("0", "—"), "the running listener is seen"
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 4, "throughput, statuses, latency, probabilities"
    subheaders = {s.value for s in at.subheader}
    assert {
        "Throughput",
        "Requests by status",
        "Latency percentiles",
        "Predicted probability by model",
    } <= subheaders
    assert {"Feature drift vs. training data", "Listeners"} <= subheaders


def test_monitoring_reads_the_services_summary_with_listeners_and_drift(ui_env: Stack) -> None:
    ui_env.predict(EMPLOYEE, model_name="dummy")
    at = open_page("monitoring")
    assert_clean(at)
    listeners = next(f for f in frames(at) if "listener_id" in f.columns)
    assert "alive" in set(listeners["alive"]) and set(listeners["mode"]) <= {"notify", "poll"}
    served = httpx.get(f"{ui_env.api_url}/monitoring/summary", params={"window_minutes": 60}, timeout=15)
    missing = served.json()["drift"]["missing"]
    if missing:  # no reference to measure against: the page says the API's reason, and draws nothing
        assert any(missing in i.value for i in at.info), texts(at)
        assert "Population stability index" not in texts(at)
    else:
        drift_drawn = "Population stability index" in texts(at)
        too_few = any(i.value.startswith("Not enough recent requests") for i in at.info)
        assert drift_drawn or too_few, texts(at)


# -- Models --------------------------------------------------------------------------------------


def test_models_page_lists_each_model_with_version_threshold_and_default(ui_env: Stack) -> None:
    served = httpx.get(f"{ui_env.api_url}/models/", timeout=10).json()
    default = next(m["name"] for m in served if m["default"])
    at = open_page("models")
    assert_clean(at)
    page = texts(at)
    for model in served:
        badge = "  :green-badge[:material/star: default]" if model["name"] == default else ""
        assert f"### {model['name']}{badge}\n" in page + "\n"
        assert f"Version **`{model['version']}`** · decision threshold **{model['threshold']:.2f}**" in page
    assert f"go to **{default}**" in page
    assert sum(m.label == "ROC AUC" for m in at.metric) == len(served)


# -- When the API is away ------------------------------------------------------------------------


@pytest.mark.parametrize("page", [None, "batch", "history", "monitoring", "models"])
def test_every_page_says_plainly_when_the_api_is_down(dead_api_url: str, page: str | None) -> None:
    at = open_page(page)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("prediction service is unavailable" in e and dead_api_url in e for e in errors), errors
    assert all("Traceback" not in e for e in errors)
