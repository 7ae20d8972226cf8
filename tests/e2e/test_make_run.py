"""`make run` as a new user meets it: one command, a POST and a GET that shows completed, Ctrl-C/SIGTERM
leaves no process behind — embedded PostgreSQL included."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import MakeRun, postgres_processes
from tests.stack import wait_http

pytestmark = pytest.mark.slow


def test_make_run_serves_a_prediction_and_sigterm_leaves_nothing_running(make_run: MakeRun) -> None:
    body = make_run.predict()
    assert body["model_name"] == "random_forest_e04"
    assert body["result"]["prediction"] in (0, 1)
    wait_http(make_run.ui + "/", make_run.launcher, timeout=60)
    assert postgres_processes(make_run.data_dir)
    code = make_run.stop()
    log = make_run.log_text()
    assert code == 0, log[-3000:]
    assert postgres_processes(make_run.data_dir) == [], log[-3000:]
    assert "embedded PostgreSQL stopped" in log
