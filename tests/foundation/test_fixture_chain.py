"""TEST_DATABASE_URL: the suite creates its own throwaway databases on that server and drops them all."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from tests.pg import TEST_DB_PREFIX
from tests.stack import ROOT


def test_suite_leaves_no_database_behind_on_test_database_url(pg_server_url: str) -> None:
    def databases() -> set[str]:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            rows = conn.execute("SELECT datname FROM pg_database").fetchall()
        return {r[0] for r in rows}

    before = databases()
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/foundation/test_schema.py"],
        cwd=ROOT,
        env={**os.environ, "TEST_DATABASE_URL": pg_server_url},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert inner.returncode == 0, inner.stdout[-2000:] + inner.stderr[-2000:]
    assert "passed" in inner.stdout
    leftovers = {d for d in databases() - before if d.startswith(TEST_DB_PREFIX)}
    assert leftovers == set()
