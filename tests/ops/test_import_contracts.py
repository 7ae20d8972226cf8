"""`make lint` checks the layering with import-linter ([tool.importlinter] in pyproject.toml), and the
contracts do catch a breach: a copy of the tree with one forbidden import fails, the same copy without it
passes. The API's contract carries no exception (no ignored import, no indirect path allowed): a lazy
import deep in model_store that the API reaches breaks it too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sql.settings import PROJECT_ROOT

PACKAGES = ("service", "listener", "ui", "sql", "model_store")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def copy_tree(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install of the checkout.
    env = os.environ | {"PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_tree(tmp_path_factory.mktemp("layering"))


def test_make_lint_runs_the_contracts() -> None:
    out = subprocess.run(["make", "-n", "lint"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "lint-imports" in out.stdout


def test_the_tree_as_it_is_keeps_every_contract(tree: Path) -> None:
    out = lint_imports(tree)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "the API loads no model KEPT" in out.stdout


@pytest.mark.parametrize(
    ("module", "imported"),
    [("service.routes.models", "model_store.registry"), ("service.deployed_models", "sklearn.linear_model")],
)
def test_the_api_reaching_a_model_loader_breaks_it(tmp_path: Path, module: str, imported: str) -> None:
    bad = copy_tree(tmp_path / "tree")
    path = bad.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\nimport {imported}  # the deliberate breach\n")
    out = lint_imports(bad)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "the API loads no model BROKEN" in out.stdout
    assert f"{module} -> {imported.split('.')[0]}" in out.stdout


def test_the_api_contract_has_no_exception() -> None:
    contracts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
    [api] = [c for c in contracts if c["name"] == "the API loads no model"]
    assert not api.get("ignore_imports") and not api.get("allow_indirect_imports"), api
    assert {"model_store.stand_ins", "model_store.registry", "sklearn", "pandas"} <= set(
        api["forbidden_modules"]
    )


def test_a_lazy_import_of_the_stand_ins_behind_the_catalog_breaks_it(tmp_path: Path) -> None:
    """The path the contract once ignored: the API imports model_store.catalog, which must not reach the
    stand-ins (and through them scikit-learn), not even inside a function."""
    bad = copy_tree(tmp_path / "tree")
    path = bad / "model_store" / "catalog.py"
    path.write_text(
        path.read_text()
        + "\n\ndef _stand_ins() -> list:  # the deliberate breach\n"
        + "    from model_store.stand_ins import stand_in_models\n\n    return stand_in_models()\n"
    )
    out = lint_imports(bad)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "the API loads no model BROKEN" in out.stdout
    assert "model_store.catalog -> model_store.stand_ins" in out.stdout
