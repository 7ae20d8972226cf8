"""The embedded cluster is stopped only by the process that started it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from sql.embedded import EmbeddedPostgres, open_database
from sql.settings import PROJECT_ROOT, Settings


def cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`python -m ARGS` as a second terminal runs it: no DATABASE_URL, the stack's EMBEDDED_PG_DIR."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"EMBEDDED_PG_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


@pytest.fixture
def data_dir(pg_data_dir: Path) -> Path:
    return pg_data_dir


def test_a_cli_leaves_running_the_cluster_it_did_not_start(data_dir: Path) -> None:
    owner = EmbeddedPostgres(data_dir)
    try:
        assert owner.started
        for args in (("sql",), ("service", "keys", "list")):
            out = cli(*args, data_dir=data_dir)
            assert out.returncode == 0, out.stderr
            assert answers(owner.url()), f"`python -m {' '.join(args)}` stopped the cluster it did not start"
    finally:
        owner.stop()
    assert not answers(owner.url())
    assert not (data_dir / "postmaster.pid").exists()


def test_a_cli_stops_the_cluster_it_started(data_dir: Path) -> None:
    out = cli("sql", data_dir=data_dir)
    assert out.returncode == 0, out.stderr
    assert "applied: 001_" in out.stdout
    assert not (data_dir / "postmaster.pid").exists(), "python -m sql left its own cluster running"


def test_the_resolver_prefers_database_url_and_starts_nothing(data_dir: Path) -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", embedded_pg_dir=data_dir)
    with open_database(settings) as url:
        assert url == settings.database_url
    assert not data_dir.exists()


def test_the_same_process_can_start_the_cluster_again_after_stopping_it(data_dir: Path) -> None:
    settings = Settings(database_url=None, embedded_pg_dir=data_dir)
    for _ in range(2):
        with open_database(settings) as url:
            assert answers(url)
        assert not answers(url)


def test_the_resolver_gives_a_process_its_own_url_else_database_url(data_dir: Path) -> None:
    settings = Settings(
        database_url="postgresql://owner@127.0.0.1:1/none",
        api_database_url="postgresql://api@127.0.0.1:1/none",
        embedded_pg_dir=data_dir,
    )
    assert open_database(settings, process="api").url == settings.api_database_url
    assert open_database(settings, process="listener").url == settings.database_url
    assert open_database(settings).url == settings.database_url
    assert not data_dir.exists()


def test_releasing_twice_stops_the_cluster_once(data_dir: Path) -> None:
    lines: list[str] = []
    database = open_database(Settings(database_url=None, embedded_pg_dir=data_dir), say=lines.append)
    assert answers(database.url)
    database.release()
    database.release()
    assert not answers(database.url)
    assert lines == [f"embedded PostgreSQL: started in {data_dir.resolve()}", "embedded PostgreSQL stopped"]
