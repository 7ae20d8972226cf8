"""From a registered row to a ModelHandle: read the bytes once, check them, unpickle those same bytes."""

from __future__ import annotations

import ctypes
import functools
import io
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.pipeline import Pipeline

from model_store.deployments import DeployedModel
from model_store.errors import ArtifactRejected, ModelError
from model_store.handle import ModelHandle
from model_store.manifest import sha256_hex
from model_store.predictors import compile_predictor

log = logging.getLogger(__name__)


class SklearnVersionMismatch(UserWarning):
    """The running scikit-learn is not the one that trained the artifact."""


def read_verified(path: Path, expected_sha256: str, label: str = "artifact") -> bytes:
    """The file's bytes, read once; ArtifactRejected (naming the file and both hashes) on mismatch.
    `label` names the artifact in the client-facing reason (e.g. "logistic v3 artifact")."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactRejected(
            f"artifact {path} unreadable ({exc.strerror or exc}); registered sha256 {expected_sha256}",
            f"{label} is missing or unreadable on the listener's host",
        ) from None
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise ArtifactRejected(
            f"artifact {path} rejected: its sha256 is {actual}, the database registered {expected_sha256}",
            f"{label} refused: its sha256 is not the one registered in the database",
        )
    return data


def unpickle_pipeline(data: bytes, source: Path, label: str = "artifact") -> Pipeline:
    """joblib.load of verified bytes (never of the path: the file may change after the check)."""
    try:
        pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:
        raise ModelError(
            f"artifact {source} could not be unpickled: {exc}", f"{label} could not be unpickled"
        ) from exc
    if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "predict_proba"):
        raise ModelError(
            f"artifact {source} holds a {type(pipeline).__name__}, not a classifier pipeline",
            f"{label} holds a {type(pipeline).__name__}, not a classifier pipeline",
        )
    return pipeline


def force_single_thread(pipeline: Pipeline) -> None:
    """n_jobs=1 everywhere: a parallel forest predicts one row ~4x slower on 2 cores."""
    for _, step in pipeline.steps:
        if "n_jobs" in step.get_params(deep=False):
            step.set_params(n_jobs=1)


def warn_on_version(trained_with: str, name: str) -> None:
    """Warn (once per model) when this process runs another scikit-learn than training did."""
    if trained_with != sklearn.__version__:
        message = (
            f"model {name} was trained with scikit-learn {trained_with}, "
            f"this process runs {sklearn.__version__}"
        )
        log.warning(message)
        warnings.warn(message, SklearnVersionMismatch, stacklevel=3)


def load_handle(model: DeployedModel, store_dir: Path) -> ModelHandle:
    """Verify, unpickle and compile one deployed model; raise ModelError subclasses on any failure."""
    path = store_dir / model.artifact_path
    label = f"{model.name} {model.version} artifact"
    data = read_verified(path, model.sha256, label)
    warn_on_version(model.sklearn_version, model.name)
    pipeline = unpickle_pipeline(data, path, label)
    force_single_thread(pipeline)
    try:
        predictor: Any = compile_predictor(pipeline)
    except Exception as exc:
        raise ModelError(
            f"artifact {path} could not be prepared for inference: {exc}",
            f"{label} could not be prepared for inference",
        ) from exc
    del pipeline, data
    release_freed_memory()
    return ModelHandle(model.name, model.version, model.sha256, model.threshold, predictor)


def release_freed_memory() -> None:
    """Hand memory freed by unpickling back to the OS (glibc's malloc_trim; a no-op elsewhere).

    glibc keeps freed heap pages: without this, a listener with four models held about 35 MB more.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # glibc; musl has no libc.so.6 nor malloc_trim
    except (OSError, AttributeError):
        return None
