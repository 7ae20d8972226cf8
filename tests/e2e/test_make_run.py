"""`make run` as a new user meets it: one command, a POST and a GET that shows completed, Ctrl-C/SIGTERM
leaves no process behind — embedded PostgreSQL included — and the next run reuses its development key."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import psycopg
import pytest

from tests.e2e.conftest import MakeRun, launch, postgres_processes
from tests.stack import wait_http

pytestmark = pytest.mark.slow


def processes_run_as_their_own_roles(make_run: MakeRun) -> bool:
    """The API and the listener are connected as the launcher's login roles, nothing else as a superuser."""
    found = re.search(r"^database +(\S+)$", make_run.log_text(), re.M)
    assert found, make_run.log_text()
    with psycopg.connect(found.group(1)) as conn:
        users = conn.execute(
            "SELECT a.usename, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename"
            " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
        ).fetchall()
    assert set(users) == {("futurisys_run_api", False), ("futurisys_run_listener", False)}, users
    log = make_run.log_text()
    return "api        runs as database role futurisys_run_api (member of futurisys_api)" in log


def test_make_run_serves_a_prediction_sigterm_leaves_nothing_and_a_rerun_reuses_its_key(
    make_run: MakeRun, store: Path, tmp_path: Path
) -> None:
    body = make_run.predict()
    assert body["model_name"] == "random_forest_e04"
    assert body["result"]["prediction"] in (0, 1)
    wait_http(make_run.ui + "/", make_run.launcher, timeout=120)
    assert postgres_processes(make_run.data_dir)
    assert processes_run_as_their_own_roles(make_run)
    key = make_run.key()
    assert stat.S_IMODE((make_run.run_dir / "api-key").stat().st_mode) == 0o600

    code = make_run.stop()
    log = make_run.log_text()
    assert code == 0, log[-3000:]
    assert postgres_processes(make_run.data_dir) == [], log[-3000:]
    assert "embedded PostgreSQL stopped" in log

    again = launch(tmp_path, store, make_run.data_dir, log_name="second-run.log")
    try:
        assert again.key() == key
        assert again.predict()["status"] == "completed"
    finally:
        assert again.stop() == 0
    assert "API key    reused" in again.log_text()
    for text in (log, again.log_text()):
        assert key not in text
        assert str(make_run.run_dir / "api-key") in text
