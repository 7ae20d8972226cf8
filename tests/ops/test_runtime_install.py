"""`make run` installs the runtime only; `make test` and `make lint` add the dev extras,
and no runtime code imports a dev-only package."""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from sql.settings import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
RUNTIME_PACKAGES = ("service", "listener", "model_store", "sql", "ui")
IMPORT_NAMES = {"import-linter": "importlinter"}  # distributions whose module is named otherwise


def distribution(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower()


def dev_only_modules() -> set[str]:
    runtime = {distribution(r) for r in PYPROJECT["project"]["dependencies"]}
    dev = {distribution(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]} - runtime
    return {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in dev} | {"docker"}


def make_dry_run(target: str, tmp_path: Path) -> list[str]:
    """The pip commands `make TARGET` would run in a checkout without a venv."""
    out = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if "pip install" in line and "--upgrade pip" not in line]


def test_make_run_installs_the_runtime_and_make_test_and_lint_add_the_dev_extras(tmp_path: Path) -> None:
    assert [line.split()[-1] for line in make_dry_run("run", tmp_path)] == ["."]
    for target in ("test", "lint"):
        assert [line.split()[-1] for line in make_dry_run(target, tmp_path)] == [".", "'.[dev]'"], target


@pytest.mark.parametrize("package", RUNTIME_PACKAGES)
def test_runtime_code_imports_no_dev_only_package(package: str) -> None:
    dev_only = dev_only_modules()
    assert {"playwright", "schemathesis", "testcontainers", "coverage"} <= dev_only
    files = [
        *sorted((PROJECT_ROOT / package).rglob("*.py")),
        *sorted((PROJECT_ROOT / "scripts").glob("*.py")),
    ]
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [
                f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {n}"
                for n in names
                if n.split(".")[0] in dev_only
            ]
    assert found == []
