"""make test's coverage floor: below it the run fails with a message that says so, even when every
test passed (scripts/coverage_report.sh, the step make test ends with)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "scripts" / "coverage_report.sh"

HALF_COVERED = """
def used():
    return 1


def unused(x):
    if x:
        return 2
    return 3
"""


def _measured_project(tmp_path: Path, floor: int) -> Path:
    """A tiny project whose tests cover part of its code, measured the way make test measures ours."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "half.py").write_text(HALF_COVERED)
    (tmp_path / "run.py").write_text("from pkg.half import used\nused()\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.coverage.run]\nsource = ["pkg"]\nbranch = true\nparallel = true\n'
        f"[tool.coverage.report]\nfail_under = {floor}\n"
    )
    subprocess.run([sys.executable, "-m", "coverage", "run", "run.py"], cwd=tmp_path, env=_env(), check=True)
    return tmp_path


def _env() -> dict[str, str]:
    # The suite itself runs under coverage: its settings must not leak into the tiny project's run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    return {**env, "PY": sys.executable}


def _report(project: Path, tests_status: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(REPORT), str(tests_status)], cwd=project, env=_env(), capture_output=True, text=True
    )


def test_below_the_floor_the_run_fails_and_says_why(tmp_path: Path) -> None:
    done = _report(_measured_project(tmp_path, floor=90))
    assert done.returncode == 2
    assert "below the floor" in done.stderr and "fail_under" in done.stderr
    assert "pkg/half.py" in done.stdout and "TOTAL" in done.stdout  # the table is still printed
    assert (tmp_path / "htmlcov" / "index.html").exists()


def test_above_the_floor_the_run_passes(tmp_path: Path) -> None:
    done = _report(_measured_project(tmp_path, floor=10))
    assert done.returncode == 0, done.stderr
    assert "below the floor" not in done.stderr


@pytest.mark.parametrize("floor", [10, 90])
def test_failed_tests_fail_the_run_whatever_the_coverage(tmp_path: Path, floor: int) -> None:
    assert _report(_measured_project(tmp_path, floor=floor), tests_status=1).returncode == 1
