"""TEST_DATABASE_URL: the suite creates its own throwaway databases on that server and drops them all."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg

from tests.pg import TEST_DB_PREFIX
from tests.stack import ROOT


def test_suite_leaves_no_database_behind_on_test_database_url(pg_server_url: str) -> None:
    def databases() -> set[str]:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            rows = conn.execute("SELECT datname FROM pg_database").fetchall()
        return {r[0] for r in rows}

    # Other sessions may create and drop databases on this server meanwhile: the inner one tags its own.
    tag = f"chain{uuid.uuid4().hex[:8]}_"
    before = databases()
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/foundation/test_schema.py"],
        cwd=ROOT,
        env={**os.environ, "TEST_DATABASE_URL": pg_server_url, "FUTURISYS_TEST_DB_TAG": tag},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert inner.returncode == 0, inner.stdout[-2000:] + inner.stderr[-2000:]
    assert "passed" in inner.stdout
    leftovers = {d for d in databases() - before if d.startswith(TEST_DB_PREFIX + tag)}
    assert leftovers == set()
