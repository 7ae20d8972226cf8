"""The real processes: API + listener (serving the stand-in models) on one database, over HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import employee
from tests.stack import running_api, running_listener

pytestmark = pytest.mark.slow


def wait_for_listener(base: str) -> None:
    """Until a submitted request completes (the listener is up and has LISTENed): generously, as starting a
    Python process can take half a minute on a busy machine."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        response = httpx.post(f"{base}/predictions/request?wait=1", json={"features": employee()}, timeout=30)
        if response.status_code == 200:
            return
    raise AssertionError("the listener never answered")


def test_submit_and_wait_returns_the_completed_result_in_the_same_call(
    db_url: str, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    with (
        running_api(db_url, env=stand_in_env, log=tmp_path / "api.log") as base,
        running_listener(db_url, env=stand_in_env, log=tmp_path / "listener.log"),
    ):
        wait_for_listener(base)
        with httpx.Client(base_url=base, timeout=10) as client:
            for model in ("logistic", "random_forest_e04", "dummy", None):
                body = {"features": employee(), **({"model_name": model} if model else {})}
                # 200 (not 202) is the answer within this call; how fast is make bench's to measure.
                response = client.post("/predictions/request?wait=30", json=body)
                assert response.status_code == 200, response.text
                answer = response.json()
                assert answer["status"] == "completed"
                assert answer["result"]["prediction"] in (0, 1)
                assert 0 <= answer["result"]["probability"] <= 1
                assert answer["result"]["model_version"]
                assert client.get(f"/predictions/{answer['request_id']}").json() == answer


def test_submit_and_wait_answers_202_when_no_listener_runs(
    db_url: str, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    with running_api(db_url, env=stand_in_env, log=tmp_path / "api.log") as base:
        started = time.monotonic()
        response = httpx.post(
            f"{base}/predictions/request?wait=0.5", json={"features": employee()}, timeout=10
        )
        assert time.monotonic() - started >= 0.5  # it waited (a lower bound: no load can break it)
        assert response.status_code == 202
        assert response.json()["status"] == "pending"
        assert response.headers["location"] == f"/predictions/{response.json()['request_id']}"


def test_a_ten_thousand_row_batch_completes_end_to_end(
    db_url: str, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    items = [employee(age=18 + i % 50, monthly_income=1000 + i) for i in range(10_000)]
    with (
        running_api(db_url, env=stand_in_env, log=tmp_path / "api.log") as base,
        running_listener(db_url, env=stand_in_env, log=tmp_path / "listener.log"),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        response = client.post("/predictions/batch", json={"model_name": "logistic", "items": items})
        assert response.status_code == 202, response.text[:500]
        ids = response.json()["request_ids"]
        assert len(ids) == len(set(ids)) == 10_000

        deadline = time.monotonic() + 120  # the API waits 30 s at most per call; a busy machine may need more
        last = client.get(f"/predictions/{ids[-1]}?wait=30").json()
        while last["status"] in ("pending", "running") and time.monotonic() < deadline:
            last = client.get(f"/predictions/{ids[-1]}?wait=30").json()
        assert last["status"] == "completed" and last["features"]["monthly_income"] == 1000 + 9_999
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = client.get("/predictions/history", params={"status": "pending", "limit": 1}).json()
            running = client.get("/predictions/history", params={"status": "running", "limit": 1}).json()
            if not page["items"] and not running["items"]:
                break
            time.sleep(0.2)
        completed = client.get("/metrics").text
    assert 'prediction_queue_depth{status="completed"} 10000.0' in completed
    assert 'prediction_queue_depth{status="failed"} 0.0' in completed
