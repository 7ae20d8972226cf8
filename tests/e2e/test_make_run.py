"""`make run` as a new user meets it: one command, a POST and a GET that shows completed, Ctrl-C/SIGTERM
leaves no process behind — embedded PostgreSQL included."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.stack import ROOT, free_port, wait_http

pytestmark = pytest.mark.slow

EMPLOYEE = {
    "age": 35,
    "business_travel": "Travel_Rarely",
    "daily_rate": 800,
    "department": "Sales",
    "distance_from_home": 7,
    "education": "Bachelor",
    "education_field": "Life_Sciences",
    "environment_satisfaction": "High",
    "gender": "Male",
    "hourly_rate": 65,
    "job_involvement": "High",
    "job_level": 2,
    "job_role": "Sales_Executive",
    "job_satisfaction": "High",
    "marital_status": "Married",
    "monthly_income": 4900,
    "monthly_rate": 14200,
    "num_companies_worked": 2,
    "over_time": "No",
    "percent_salary_hike": 14,
    "performance_rating": "Excellent",
    "relationship_satisfaction": "High",
    "stock_option_level": 1,
    "total_working_years": 10,
    "training_times_last_year": 3,
    "work_life_balance": "Better",
    "years_at_company": 5,
    "years_in_current_role": 3,
    "years_since_last_promotion": 1,
    "years_with_curr_manager": 3,
}


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres" and str(data_dir) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_make_run_serves_a_prediction_and_sigterm_leaves_nothing_running(
    trained_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "artifacts"
    shutil.copytree(trained_store, store)
    data_dir = tmp_path / "pgdata"
    api_port, ui_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ENV", "FUTURISYS_API_KEY"}} | {
        "EMBEDDED_PG_DIR": str(data_dir),
        "MODEL_STORE_DIR": str(store),
        "FUTURISYS_API_PORT": str(api_port),
        "FUTURISYS_UI_PORT": str(ui_port),
        "FUTURISYS_RUN_DIR": str(tmp_path / "run"),
    }
    launcher = subprocess.Popen(
        [sys.executable, "scripts/run_stack.py"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=(tmp_path / "run.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{api_port}"
        wait_http(base + "/health", launcher, timeout=120)
        key = (tmp_path / "run" / "api-key").read_text().strip()
        submitted = httpx.post(
            base + "/predictions/request", json={"features": EMPLOYEE}, headers={"X-API-Key": key}
        )
        assert submitted.status_code == 202, submitted.text
        request_id = submitted.json()["request_id"]
        deadline = time.monotonic() + 30
        body: dict = {}
        while time.monotonic() < deadline:
            body = httpx.get(f"{base}/predictions/{request_id}").json()
            if body["status"] == "completed":
                break
            time.sleep(0.1)
        assert body["status"] == "completed", body
        assert body["model_name"] == "random_forest_e04"
        assert body["result"]["prediction"] in (0, 1)
        wait_http(f"http://127.0.0.1:{ui_port}/", launcher, timeout=60)
        assert postgres_processes(data_dir)
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(60)
    log = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert postgres_processes(data_dir) == [], log[-3000:]
    assert "embedded PostgreSQL stopped" in log
