"""`python -m listener` refuses what it cannot run with, at once, saying what to change (exit 2 or 1)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

import pytest

from tests.listener.conftest import LISTENER_ENV
from tests.stack import run_module


def run_listener(
    db_url: str, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_module(db_url, "listener", *args, env={**LISTENER_ENV, **(env or {})})


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--concurrency", "0"], "--concurrency: must be >= 1, got 0"),
        (["--batch-size", "-5"], "--batch-size: must be >= 1, got -5"),
        (["--poll-only", "--poll-interval", "0"], "--poll-interval: must be > 0, got 0"),
        (["--sweep-interval", "soon"], "--sweep-interval: invalid positive_float value: 'soon'"),
    ],
)
def test_a_bad_flag_is_refused_naming_it(args: list[str], says: str) -> None:
    done = run_listener("postgresql://nobody@127.0.0.1:1/none", *args)
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_setting_in_the_environment_is_refused_naming_it() -> None:
    done = run_listener("postgresql://nobody@127.0.0.1:1/none", env={"LISTENER_BATCH_SIZE": "many"})
    assert done.returncode == 2
    assert "invalid setting in the environment" in done.stderr
    assert "listener_batch_size" in done.stderr
    assert "Traceback" not in done.stderr


def test_on_a_database_without_the_schema_it_exits_saying_to_run_the_migrations(empty_db_url: str) -> None:
    done = run_listener(empty_db_url)
    assert done.returncode == 1
    assert "run `python -m sql` first" in done.stderr
    assert "Traceback" not in done.stderr
