"""The model registry: the listener's one entry point to models.

Deployments (which version answers for each name, which name is the default) are rows in the
database; artifacts load lazily, each checked against its registered sha256, and stay cached.
`refresh()` (on NOTIFY model_promoted) loads and verifies new versions before switching to them,
and keeps serving the old one when the new one fails its check. An artifact that failed to load is
tried again after a backoff (1 s, doubling, at most RETRY_MAX_SECONDS): restoring the file brings the
model back without a restart. `availability()` says which models answer and why the others do not.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

import psycopg

from model_store.deployments import DeployedModel, fetch_deployed, flagged_default, no_default_deployed
from model_store.errors import ArtifactRejected, ModelError, UnknownModel
from model_store.handle import ModelHandle
from model_store.loading import load_handle
from sql.settings import get_settings

__all__ = [
    "ArtifactRejected",
    "ModelError",
    "ModelHandle",
    "ModelRegistry",
    "ModelState",
    "UnknownModel",
    "open_registry",
]

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class ModelState:
    """One deployed model as this registry sees it. available: True once loaded, False after a failed
    load (error: the reason a client may read; retry_in: seconds until the next attempt), None when no
    load was tried yet."""

    name: str
    version: str
    available: bool | None
    error: str | None = None
    retry_in: float | None = None


@dataclass
class _Failure:
    error: ModelError
    attempts: int
    retry_at: float

    def again(self) -> ModelError:
        # A fresh exception each time: re-raising one object would grow its traceback forever.
        return type(self.error)(str(self.error), self.error.public)


class ModelRegistry:
    """Deployed models by name, loaded on first use and verified against the database."""

    def __init__(self, conninfo: str | None, store_dir: Path | None = None) -> None:
        if conninfo is None:
            raise ModelError("the model registry needs a database (DATABASE_URL)")
        self.conninfo = conninfo
        self.store_dir = Path(store_dir) if store_dir is not None else get_settings().model_store_dir
        self._lock = threading.RLock()
        self._deployed: dict[str, DeployedModel] | None = None
        self._default: str | None = None
        self._handles: dict[str, ModelHandle] = {}
        self._failures: dict[tuple[str, str], _Failure] = {}
        self.refresh_errors: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------------------

    def get(self, name: str | None = None) -> ModelHandle:
        """The handle answering for `name` (None: the default model); loads and verifies on first use."""
        self._current()
        key = self.default_name() if name is None else name
        handle = self._handles.get(key)
        if handle is not None:
            return handle
        with self._lock:
            return self._load_locked(key)

    def default_name(self) -> str:
        """Name of the default model."""
        deployed, default = self._current()
        if default is None:
            raise no_default_deployed(sorted(deployed))
        return default

    def names(self) -> list[str]:
        """Names of the deployed models, sorted."""
        return sorted(self._current()[0])

    def availability(self) -> list[ModelState]:
        """Every deployed model: loaded, refused (with the client-safe reason), or not tried yet."""
        deployed = sorted(self._current()[0].values(), key=lambda m: m.name)
        with self._lock:
            handles, failures = self._handles, dict(self._failures)
        now = monotonic()
        states = []
        for model in deployed:
            handle = handles.get(model.name)
            failure = failures.get((model.name, model.version))
            if handle is not None:
                states.append(ModelState(model.name, handle.version, True))
            elif failure is not None:
                retry_in = max(0.0, failure.retry_at - now)
                states.append(ModelState(model.name, model.version, False, failure.error.public, retry_in))
            else:
                states.append(ModelState(model.name, model.version, None))
        return states

    def retry_due(self) -> list[str]:
        """Load again every refused model whose backoff has passed; the names that now answer."""
        with self._lock:
            now = monotonic()
            due = [name for (name, _), f in self._failures.items() if f.retry_at <= now]
        loaded = []
        for name in due:
            try:
                self.get(name)
            except ModelError:
                continue
            loaded.append(name)
        return loaded

    # -- switching ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reread deployments; load and verify changed versions first; keep the old ones that fail."""
        fresh = self._read_deployments()
        with self._lock:
            if self._deployed is None:
                self._install(fresh)
                return
            self._switch(fresh)

    def _current(self) -> tuple[dict[str, DeployedModel], str | None]:
        if self._deployed is None:
            fresh = self._read_deployments()
            with self._lock:
                if self._deployed is None:
                    self._install(fresh)
        assert self._deployed is not None
        return self._deployed, self._default

    def _read_deployments(self) -> list[DeployedModel]:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                return fetch_deployed(conn)
        except psycopg.Error as exc:
            raise ModelError(f"cannot read model deployments from the database: {exc}") from exc

    def _install(self, fresh: list[DeployedModel]) -> None:
        self._deployed = {m.name: m for m in fresh}
        self._default = flagged_default(fresh)
        self._handles = {}
        self._failures = {}

    def _switch(self, fresh: list[DeployedModel]) -> None:
        assert self._deployed is not None
        deployed: dict[str, DeployedModel] = {}
        handles: dict[str, ModelHandle] = {}
        errors: dict[str, str] = {}
        for model in fresh:
            current = self._handles.get(model.name)
            if current is None or (current.version, current.sha256) == (model.version, model.sha256):
                deployed[model.name] = model
                if current is not None:
                    handles[model.name] = current
                continue
            try:
                handles[model.name] = self._build(model)
                deployed[model.name] = model
            except ModelError as exc:
                errors[model.name] = str(exc)
                log.warning(
                    "keeping %s %s: new version %s failed: %s",
                    model.name,
                    current.version,
                    model.version,
                    exc,
                )
                deployed[model.name] = self._deployed[model.name]
                handles[model.name] = current
        default = flagged_default(fresh)
        if default is not None and default != self._default and default not in handles:
            try:
                handles[default] = self._build(deployed[default])
            except ModelError as exc:
                errors[default] = str(exc)
                if self._default in deployed:
                    log.warning("keeping default %s: new default %s failed: %s", self._default, default, exc)
                    default = self._default
        self._deployed, self._default, self._handles = deployed, default, handles
        self._failures = {}
        self.refresh_errors = errors

    # -- loading -----------------------------------------------------------------------------

    def _load_locked(self, name: str) -> ModelHandle:
        # Looked up under the lock: a refresh may have switched deployments since get() began.
        assert self._deployed is not None
        model = self._deployed.get(name)
        if model is None:
            raise UnknownModel(name, self._deployed)
        cached = self._handles.get(name)
        if cached is not None:
            return cached
        key = (model.name, model.version)
        failure = self._failures.get(key)
        if failure is not None and monotonic() < failure.retry_at:
            raise failure.again()
        try:
            handle = self._build(model)
        except ModelError as exc:
            attempts = 1 if failure is None else failure.attempts + 1
            delay = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (attempts - 1))
            self._failures[key] = _Failure(exc, attempts, monotonic() + delay)
            log.warning("model %s %s cannot be loaded (%s); next try in %.0fs", *key, exc, delay)
            raise
        if failure is not None:
            log.info("model %s %s loaded after %d failed attempt(s)", *key, failure.attempts)
            del self._failures[key]
        self._handles = {**self._handles, model.name: handle}
        return handle

    def _build(self, model: DeployedModel) -> ModelHandle:
        return load_handle(model, self.store_dir)


def open_registry(conninfo: str | None = None) -> ModelRegistry:
    """The registry for this process: DATABASE_URL's deployments, artifacts from MODEL_STORE_DIR."""
    settings = get_settings()
    return ModelRegistry(conninfo or settings.database_url, settings.model_store_dir)
