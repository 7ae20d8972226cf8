"""Shadow challengers: model versions scored beside the default model on its traffic, never answering.

`start_shadow` / `stop_shadow` change rows of model_shadows (the database audits them and tells running
listeners); `ShadowModels` is the listener's view: the shadows' registered facts and their verified handles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from model_store.deployments import DeployedModel, from_rows
from model_store.errors import ModelError
from model_store.handle import ModelHandle
from model_store.registration import registered_version
from sql.audit import cli_actor, state_actor
from sql.named_queries import QUERIES

log = logging.getLogger(__name__)


def start_shadow(conninfo: str, name: str, version: str | None = None, actor: str | None = None) -> str:
    """Run `name` at `version` (default: its deployed, else newest, version) in the shadow of the default.
    Returns the version; running listeners start scoring it at their next batch."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        version = registered_version(conn, name, version)
        with conn.cursor(row_factory=dict_row) as cur:
            default = cur.execute(QUERIES["current_default"]).fetchone()
        if default is not None and (default["model_name"], default["version"]) == (name, version):
            raise ModelError(f"{name} {version} is the default model: it cannot run in its own shadow")
        state_actor(conn, actor or cli_actor())
        conn.execute(QUERIES["start_shadow"], {"model_name": name, "version": version})
    return version


def stop_shadow(conninfo: str, name: str, actor: str | None = None, reason: str | None = None) -> str | None:
    """Stop scoring `name` in the shadow; the version that ran, or None when it was not a shadow."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        state_actor(conn, actor or cli_actor(), {"reason": reason} if reason else None)
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(QUERIES["stop_shadow"], {"model_name": name}).fetchone()
    return None if row is None else str(row["version"])


def fetch_shadows(conn: psycopg.Connection[Any]) -> list[DeployedModel]:
    """The shadows' registered facts (default always False), by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return from_rows(cur.execute(QUERIES["list_shadows"]).fetchall())


@dataclass(frozen=True)
class Shadow:
    """One shadow as a listener holds it: its handle, or why it cannot answer."""

    model: DeployedModel
    handle: ModelHandle | None
    error: str | None = None


Loader = Callable[[DeployedModel], ModelHandle]


def artifact_loader(store_dir: Path) -> Loader:
    """Load and verify a version from the model store."""
    from model_store.loading import load_handle

    return lambda model: load_handle(model, store_dir)


class ShadowModels:
    """The shadows a listener scores: reread with `refresh(conn)`, each version loaded once and verified
    against its registered sha256; a version that fails to load is kept with its error (retried at the next
    refresh), so its requests get error rows instead of answers."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self._cache: dict[tuple[str, str, str], ModelHandle] = {}
        self.shadows: list[Shadow] = []

    def refresh(self, conn: psycopg.Connection[Any]) -> list[Shadow]:
        shadows = []
        for model in fetch_shadows(conn):
            key = (model.name, model.version, model.sha256)
            handle = self._cache.get(key)
            error = None
            if handle is None:
                try:
                    handle = self.loader(model)
                    self._cache[key] = handle
                except ModelError as exc:
                    error = f"shadow {model.name} {model.version} cannot be loaded: {exc.public}"
                    log.warning("%s (%s)", error, exc)
            shadows.append(Shadow(model, handle, error))
        wanted = {(s.model.name, s.model.version, s.model.sha256) for s in shadows}
        self._cache = {k: h for k, h in self._cache.items() if k in wanted}
        self.shadows = shadows
        return shadows
