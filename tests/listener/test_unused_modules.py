"""`python -m listener` keeps out pyarrow and rich, which its libraries import only when installed and it
never uses (listener/__main__.py: ~36 MB of resident memory). That the four real models answer the
same in such a process as in this one is test_real_models'."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.stack import ROOT

REPORT = (  # what became of each module once pandas and scikit-learn are imported, and pandas' strings
    "import pandas, sklearn.ensemble, sys\n"
    "state = {True: 'kept-out', False: 'imported', None: 'absent'}\n"
    "print(*(state[sys.modules[m] is None if m in sys.modules else None] for m in ('pyarrow', 'rich')),"
    " pandas.Series(['a']).dtype.storage)\n"
)


def python(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.split()


@pytest.mark.parametrize(
    ("module", "run_name"),
    [("listener", "__main__"), ("listener.__main__", "__mp_main__")],
    ids=["python -m listener", "a --concurrency worker (spawn)"],
)
def test_a_listener_process_imports_neither_pyarrow_nor_rich(module: str, run_name: str) -> None:
    # A refused flag ends main() at once: only the module's own top level has run.
    code = (
        "import runpy, sys\n"
        "sys.argv = ['listener', '--batch-size', '0']\n"
        "try:\n"
        f"    runpy.run_module({module!r}, run_name={run_name!r}, alter_sys=True)\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    assert python(code + REPORT) == ["kept-out", "kept-out", "python"]  # pandas' strings without pyarrow


def test_importing_the_listener_cli_keeps_nothing_out_of_the_importer() -> None:
    pyarrow, _rich, _storage = python("import listener.__main__\n" + REPORT)
    assert pyarrow != "kept-out"  # imported by pandas (Streamlit installs it), or not installed
