"""The dashboard's pure parts: schema reading, CSV checks, monitoring figures, error wording. No server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pandas as pd
import pytest

from model_store.manifest import read_manifest
from tests.stack import ROOT
from tests.ui.conftest import screenshots_dir
from ui import charts
from ui.api_client import (
    ApiAuthError,
    ApiError,
    ApiRejected,
    ApiUnavailable,
    _raise_for_status,
    describe_validation,
)
from ui.batch_csv import check_csv, results_frame, template_csv
from ui.collect import collect
from ui.feature_schema import parse_metadata, snake_case
from ui.performance_charts import over_time_chart
from ui.performance_frames import SCORES, as_shown, offline_vs_live
from ui.request_table import ordered_features, page_caption, request_label, requests_frame, short_id, utc_time
from ui.summary_frames import bucket_label, drift_frame, from_summary

META = {
    "feature_schema": [
        {"name": "age", "type": "integer", "minimum": 18, "maximum": 70, "description": "Age in years."},
        {"name": "monthly_income", "type": "integer", "minimum": 1000, "maximum": 20000, "default": 4919},
        {"name": "over_time", "type": "category", "categories": ["No", "Yes"], "description": "Overtime."},
        {"name": "score", "type": "number", "minimum": 0.0, "maximum": 1.0},
    ],
    "target": {"name": "attrition"},
    "threshold": 0.4,
}
SCHEMA = parse_metadata(META)


def test_schema_reads_types_ranges_and_defaults() -> None:
    features = SCHEMA.by_name()
    assert features["age"].default_value() == 44, "midpoint when the API gives no default"
    assert features["monthly_income"].default_value() == 4919, "the served default (median) wins"
    assert features["over_time"].default_value() == "No"
    assert features["score"].default_value() == 0.5
    assert "Range 18–70" in features["age"].help_text()
    assert SCHEMA.threshold == 0.4


def test_headers_are_matched_forgivingly() -> None:
    assert snake_case("BusinessTravel") == "business_travel"
    assert snake_case(" Monthly Income ") == "monthly_income"
    checked = check_csv(b"Age;MonthlyIncome;OverTime;Score\n30;5000;yes;0.2\n", SCHEMA)
    assert checked.ok, checked.problems
    assert checked.items == [{"age": 30, "monthly_income": 5000, "over_time": "Yes", "score": 0.2}]


def test_each_bad_cell_is_named_by_row_and_column() -> None:
    data = b"\n".join(
        [
            b"employee,age,monthly_income,over_time,score",
            b"A,30,5000,No,0.1",
            b"B,17,abc,Maybe,",
            b"C,30.5,5000,Yes,2",
        ]
    )
    checked = check_csv(data, SCHEMA)
    problems = {(p.row, p.column): p.message for p in checked.problems}
    assert problems == {
        (2, "age"): "17 is below the minimum 18",
        (2, "monthly_income"): "'abc' is not a number",
        (2, "over_time"): "'Maybe' is not a known category (expected one of: No, Yes)",
        (2, "score"): "is empty",
        (3, "age"): "'30.5' is not a whole number",
        (3, "score"): "2 is above the maximum 1",
    }
    assert checked.extra_columns == ["employee"]
    assert not checked.ok


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "not a readable CSV"), (b"\xff\xfe\x00", "not UTF-8"), (b"age,over_time\n", "column is missing")],
)
def test_unusable_files_are_refused_with_a_reason(data: bytes, message: str) -> None:
    checked = check_csv(data, SCHEMA)
    assert any(message in p.message for p in checked.problems), checked.problems


def test_template_passes_its_own_check() -> None:
    assert check_csv(template_csv(SCHEMA), SCHEMA).ok


def test_results_keep_the_uploaded_rows_in_order() -> None:
    frame = pd.DataFrame({"employee": ["A", "B"], "age": ["30", "40"]})
    requests = [
        {"request_id": "r1", "status": "completed", "result": {"prediction": 1, "probability": 0.8}},
        {"request_id": "r2", "status": "failed", "result": None, "error": "boom"},
    ]
    out = results_frame(frame, requests)
    assert list(out["employee"]) == ["A", "B"]
    assert list(out["status"]) == ["completed", "failed"]
    assert out["prediction"].tolist()[0] == 1 and pd.isna(out["prediction"].tolist()[1])
    assert list(out["error"]) == ["", "boom"], "no 'None' beside a row that succeeded"
    assert out.to_csv(index=False).splitlines()[1].endswith(",r1,completed,1,0.8,,"), "nor 'nan' in the file"


def history_items() -> list[dict]:
    def item(i: int, status: str, model: str, prob: float | None) -> dict:
        created = pd.Timestamp("2025-01-01T10:00:00Z") + pd.Timedelta(seconds=20 * i)
        result = None
        if prob is not None:
            done = created + pd.Timedelta(milliseconds=10 * (i + 1))
            result = {"prediction": int(prob >= 0.5), "probability": prob, "created_at": done.isoformat()}
        return {
            "request_id": f"r{i}",
            "model_name": model,
            "status": status,
            "created_at": created.isoformat(),
            "result": result,
            "error": None,
        }

    return [
        item(0, "completed", "logistic", 0.1),
        item(1, "completed", "logistic", 0.9),
        item(2, "completed", "dummy", 0.5),
        item(3, "failed", "dummy", None),
        item(4, "pending", "dummy", None),
    ]


def test_history_rows_carry_submit_to_result_latency() -> None:
    frame = requests_frame(history_items())
    assert frame["latency_ms"].round(3).dropna().tolist() == [10.0, 20.0, 30.0]
    assert frame["probability"].dropna().tolist() == [0.1, 0.9, 0.5]
    assert frame["prediction"].isna().tolist() == [False, False, False, True, True]


LISTENER = {
    "hostname": "h",
    "pid": 1,
    "mode": "notify",
    "started_at": "2025-01-01T09:00:00Z",
    "stopped_at": None,
}
LISTENER |= {"processed": 20, "failed": 2}
SUMMARY = {
    "window": {"since": "2025-01-01T10:00:00Z", "until": "2025-01-01T11:00:00Z", "bucket_seconds": 60},
    "requests": 23,
    "status_counts": {"pending": 1, "running": 0, "completed": 20, "failed": 2},
    "throughput": [
        {"bucket": "2025-01-01T10:00:00Z", "pending": 0, "running": 0, "completed": 12, "failed": 2},
        {"bucket": "2025-01-01T10:01:00Z", "pending": 1, "running": 0, "completed": 8, "failed": 0},
    ],
    "latency_ms": {"count": 20, "p50": 4.2, "p90": 8.1, "p95": 11.0, "p99": 35.5, "max": 120.3},
    "probability_histogram": [{"model_name": "logistic", "bin_start": 0.0, "bin_end": 0.05, "count": 20}],
    "listeners": [
        {**LISTENER, "listener_id": "h:1:0", "last_seen_at": "2025-01-01T10:59:58Z", "alive": True},
        {**LISTENER, "listener_id": "h:2:0", "last_seen_at": "2025-01-01T09:30:00Z", "alive": False},
    ],
    "drift": {"reference": "training data", "missing": None, "sample_size": 23,
              "features": [{"name": "age", "psi": 0.02}]},
}  # fmt: skip


def test_the_monitoring_summary_shape_asked_of_the_api_is_read_whole() -> None:
    data = from_summary(SUMMARY)
    assert (data.requests, data.completed, data.failed) == (23, 20, 2)
    assert data.throughput.groupby("status")["count"].sum().to_dict() == {
        "completed": 20,
        "failed": 2,
        "pending": 1,
    }
    assert data.latency_ms("p95") == 11.0
    assert data.listeners_alive == 1
    assert data.listeners["listener_id"].tolist() == ["h:1:0", "h:2:0"], "alive first"
    assert data.drift["feature"].tolist() == ["age"] and data.drift_missing is None
    assert data.bucket == pd.Timedelta(minutes=1), "the API's bucket width is what the chart draws"
    assert (data.since, data.until) == (pd.Timestamp("2025-01-01T10:00Z"), pd.Timestamp("2025-01-01T11:00Z"))


def test_live_figures_stand_beside_what_training_registered_and_dashes_where_nothing_was(
    trained_store: Path,
) -> None:
    registered = read_manifest(trained_store)["models"]["logistic"]["metrics"]
    live = dict.fromkeys(SCORES, 0.5)
    frame = offline_vs_live({**live, "offline_metrics": registered}).set_index("figure")
    assert frame.loc["ROC-AUC", "offline (CV mean)"] == registered["cv"]["roc_auc"]["mean"]
    assert frame.loc["F1", "offline (held-out test)"] == registered["test"]["f1"]
    assert frame.loc["Recall", "live"] == 0.5
    # A version registered without training's figures (the stand-ins): nothing to compare with, shown as —.
    bare = as_shown(offline_vs_live({**live, "offline_metrics": {"stand_in": True}}), ["offline (CV mean)"])
    assert set(bare["offline (CV mean)"]) == {"—"}


def test_bucket_widths_read_plainly() -> None:
    labels = [bucket_label(pd.Timedelta(seconds=s)) for s in (10, 60, 300, 900, 3600, 7200)]
    assert labels == ["10 s", "minute", "5 min", "15 min", "hour", "2 h"]


def test_features_without_a_psi_yet_are_left_out_of_the_drift_chart() -> None:
    frame = drift_frame({"sample_size": 20, "features": [{"name": "age", "psi": None}]})
    assert frame is not None and frame.empty


def test_drift_is_sorted_worst_first_and_banded() -> None:
    frame = drift_frame({"features": [{"name": "age", "psi": 0.05}, {"name": "over_time", "psi": 0.4}]})
    assert frame["feature"].tolist() == ["over_time", "age"]
    assert frame["band"].tolist() == ["major shift", "stable"]


def test_time_axes_read_in_utc_on_a_24_hour_clock_with_the_date() -> None:
    # Vega's default ticks follow the browser's time zone on a 12-hour clock ("12 PM", seven times
    # over a week with no date); the tables say UTC.
    bucket = pd.Timestamp("2026-12-03T06:00:00Z")
    frame = pd.DataFrame({"bucket": [bucket], "status": ["completed"], "count": [3]})
    spec = charts.throughput_chart(frame, pd.Timedelta(minutes=1), bucket, bucket + pd.Timedelta(hours=1))
    x = spec.to_dict()["encoding"]["x"]
    assert x["scale"]["type"] == "utc"
    assert "utcFormat(datum.value, '%H:%M')" in x["axis"]["labelExpr"] and "%d %b" in x["axis"]["labelExpr"]
    assert "UTC" in x["axis"]["title"]
    points = pd.DataFrame({"bucket": [bucket], "figure": ["ROC-AUC"], "value": [0.8], "labelled": [30]})
    over_time = over_time_chart(points).to_dict()["encoding"]["x"]
    assert over_time["scale"]["type"] == "utc" and "utcFormat" in over_time["axis"]["labelExpr"]


def test_the_drift_chart_names_every_feature_in_full() -> None:
    names = [f"feature {i} with a rather long name" for i in range(30)]
    frame = drift_frame({"features": [{"name": n, "psi": i / 100} for i, n in enumerate(names)]})
    layer = charts.drift_chart(frame).to_dict()["layer"][0]["encoding"]
    assert layer["y"]["axis"]["labelOverlap"] is False, "Vega would drop every other name"
    assert layer["y"]["axis"]["labelLimit"] == 0, "and cut the long ones"
    assert layer["color"]["legend"]["labelLimit"] == 0
    assert "unknown" not in layer["color"]["scale"]["domain"], "no bar is ever unknown"


def test_validation_errors_are_shown_as_the_api_words_them() -> None:
    # service/errors.py puts the field's location in front of each message, once: shown as it is.
    age = "items.3.age: 150 is out of range [18, 60]"
    detail = [
        {"loc": ["body", "items", 3, "age"], "msg": age, "type": "value_error"},
        {"loc": ["query", "wait"], "msg": "wait: Input should be less than or equal to 30", "type": "x"},
    ]
    assert describe_validation(detail) == [age, "wait: Input should be less than or equal to 30"]
    assert describe_validation("missing or invalid X-API-Key") == ["missing or invalid X-API-Key"]
    response = httpx.Response(422, json={"detail": detail}, request=httpx.Request("POST", "http://api/x"))
    with pytest.raises(ApiRejected) as rejected:
        _raise_for_status(response, True)
    assert rejected.value.problems == describe_validation(detail)
    assert rejected.value.message.count("items.3.age") == 1


def test_an_error_page_not_from_the_api_still_reads_as_a_sentence() -> None:
    # A proxy in front of the API answers in HTML: its text stands in for the API's detail.
    response = httpx.Response(502, text="<h1>Bad gateway</h1>", request=httpx.Request("GET", "http://api/x"))
    with pytest.raises(ApiError) as failed:
        _raise_for_status(response, False)
    assert failed.value.message == "The API failed (502): <h1>Bad gateway</h1>"


@pytest.mark.parametrize(
    ("code", "said", "key_sent", "hint"),
    [
        (401, "missing or invalid X-API-Key", True, "wrong or revoked"),
        (401, "missing or invalid X-API-Key", False, "Set FUTURISYS_API_KEY"),
        (403, "this key's scope is read: submitting needs submit or admin", True, "scope"),
    ],
)
def test_a_refused_key_shows_the_apis_own_reason(code: int, said: str, key_sent: bool, hint: str) -> None:
    response = httpx.Response(code, json={"detail": said}, request=httpx.Request("GET", "http://api/x"))
    with pytest.raises(ApiAuthError) as refused:
        _raise_for_status(response, key_sent)
    assert refused.value.message.startswith(f"The API answered {code}: {said}.")
    assert hint in refused.value.message


class FakeLookups:
    """The API's lookup as the Batch page sees it: each id turns completed after `rounds` lookups."""

    def __init__(self, rounds: dict[str, int], fail_on_call: int | None = None) -> None:
        self.rounds, self.calls, self.fail_on_call = dict(rounds), [], fail_on_call

    def lookup(self, request_ids: list[str]) -> list[dict | None]:
        self.calls.append(list(request_ids))
        if len(self.calls) == self.fail_on_call:
            raise ApiUnavailable("The API went away.")
        out: list[dict | None] = []
        for rid in request_ids:
            if rid not in self.rounds:
                out.append(None)
                continue
            self.rounds[rid] -= 1
            status = "completed" if self.rounds[rid] <= 0 else "pending"
            out.append({"request_id": rid, "status": status})
        return out


def test_answers_are_collected_in_chunks_asking_again_only_for_the_unfinished() -> None:
    api = FakeLookups({"a": 1, "b": 3, "c": 1, "d": 2})
    progress: list[tuple[int, int]] = []
    got = collect(
        api, ["a", "b", "x", "c", "d"], 10.0, lambda *p: progress.append(p), chunk=2, sleep=lambda s: None
    )
    assert [i and i["status"] for i in got.items] == [
        "completed",
        "completed",
        None,
        "completed",
        "completed",
    ]
    assert got.error is None
    assert api.calls == [["a", "b"], ["x", "c"], ["d"], ["b", "d"], ["b"]]
    assert progress[-1] == (5, 5) and [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_collecting_stops_when_the_wait_runs_out_or_the_api_fails() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    slow = collect(FakeLookups({"a": 100}), ["a"], 2.0, sleep=sleep, clock=lambda: now[0])
    assert slow.items[0]["status"] == "pending" and slow.error is None and now[0] == pytest.approx(2.0)

    failing = FakeLookups({"a": 1, "b": 1}, fail_on_call=2)
    broken = collect(failing, ["a", "b"], 2.0, chunk=1, sleep=lambda s: None)
    assert broken.items == [{"request_id": "a", "status": "completed"}, None]
    assert isinstance(broken.error, ApiUnavailable)


def test_the_test_runs_screenshots_land_where_git_ignores_them() -> None:
    shot = screenshots_dir({}) / "history.png"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(shot)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{shot} is not ignored: `make test` would rewrite tracked files"
    assert screenshots_dir({"SCREENSHOTS_DIR": "/x"}) == Path("/x")


def test_requests_of_one_millisecond_get_distinct_picker_labels() -> None:
    # Three UUIDv7 ids minted in the same millisecond: same first 13 hex digits, random tails.
    items = [
        {"request_id": f"01a237ed-2f25-7{tail[:3]}-a0a5-{tail}", "created_at": "2026-12-02T18:03:40.123Z",
         "model_name": "logistic", "status": "completed", "result": None, "error": None}
        for tail in ("e57d39f1c2ab", "e308a4b1c9d0", "3b7f1ac05e62")
    ]  # fmt: skip
    labels = [request_label(row) for row in requests_frame(items).itertuples()]
    assert len(set(labels)) == 3, labels
    assert labels[0] == "…e57d39f1c2ab · logistic · completed · 18:03:40 UTC"
    assert short_id("abc") == "abc"


def test_times_read_in_utc_on_a_24_hour_clock() -> None:
    assert utc_time("2026-12-02T13:04:05+01:00") == "2026-12-02 12:04:05 UTC"
    assert utc_time("2026-12-02T23:59:59Z") == "2026-12-02 23:59:59 UTC"
    assert utc_time(None) == "—"


def test_features_are_listed_in_schema_order_then_unknown_ones() -> None:
    stored = {"over_time": "Yes", "zzz": 1, "age": 30}  # JSONB keeps its own key order
    assert ordered_features(stored, SCHEMA.names) == [("age", 30), ("over_time", "Yes"), ("zzz", 1)]


def test_the_history_caption_says_which_requests_of_how_many() -> None:
    assert page_caption(1, 1, 50, 204) == "Page 1 · requests 1–50 of 204"
    assert page_caption(5, 201, 4, 204) == "Page 5 · requests 201–204 of 204"
    assert page_caption(1, 1, 50, 10_000, capped=True) == "Page 1 · requests 1–50 of 10,000+"
    assert page_caption(2, 51, 50, None) == "Page 2 · requests 51–100"
    assert page_caption(1, 1, 0, 0) == "Page 1 · no requests"


def test_the_installed_package_carries_every_file_of_the_dashboard_beside_its_code() -> None:
    # An installed wheel holds only .py files unless package-data names the rest: the favicon was missing.
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    ui_dir = ROOT / "ui"
    needed = [
        p.relative_to(ui_dir).as_posix()
        for p in ui_dir.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert "favicon.svg" in needed
    missing = [f for f in needed if not any(fnmatch.fnmatch(f, g) for g in globs.get("ui", []))]
    assert missing == [], "add them to [tool.setuptools.package-data] ui in pyproject.toml"
