"""Explainers for the exact model version that answered a request, deployed or not, hash-checked.

The registry serves what is deployed now; an explanation must use the version in prediction_results,
even after a promotion. So this loads by (name, version) from model_versions, checks the bytes
against the registered sha256 (and that sha256 against the one that answered), and keeps the last
few explainers built. Failures are not cached: a restored file is used on the next request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from model_store.errors import ModelError
from model_store.explain import Explainer, ExplanationUnavailable, explainer_for
from model_store.loading import force_single_thread, read_verified, unpickle_pipeline, warn_on_version
from sql.named_queries import QUERIES

CACHED_EXPLAINERS = 4


class ExplainerCache:
    """Explainers by (model name, version, sha256); the least recently used one goes first."""

    def __init__(self, store_dir: Path, size: int = CACHED_EXPLAINERS) -> None:
        self.store_dir = Path(store_dir)
        self.size = size
        self._explainers: OrderedDict[tuple[str, str, str], Explainer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: psycopg.Connection[Any], name: str, version: str, sha256: str) -> Explainer:
        """The explainer of `name` at `version`, whose artifact must hash to `sha256` (the one that answered).

        ExplanationUnavailable (no file paths in the message: clients read it) when it cannot be had."""
        key = (name, version, sha256)
        with self._lock:
            if key in self._explainers:
                self._explainers.move_to_end(key)
                return self._explainers[key]
        explainer = self._load(conn, name, version, sha256)
        with self._lock:
            self._explainers[key] = explainer
            while len(self._explainers) > self.size:
                self._explainers.popitem(last=False)
        return explainer

    def _load(self, conn: psycopg.Connection[Any], name: str, version: str, sha256: str) -> Explainer:
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                QUERIES["explained_model_version"], {"model_name": name, "version": version}
            ).fetchone()
        if row is None:
            raise ExplanationUnavailable(f"model {name} version {version} is no longer registered")
        artifact_path, registered = row["artifact_path"], row["sha256"]
        sklearn_version = row["sklearn_version"]
        if registered != sha256:
            raise ExplanationUnavailable(
                f"model {name} version {version} is registered with sha256 {registered}, "
                f"but the answer came from {sha256}"
            )
        try:
            data = read_verified(self.store_dir / artifact_path, registered)
        except ModelError:
            raise ExplanationUnavailable(
                f"model {name} version {version} can no longer be loaded: its artifact {artifact_path} "
                "is missing or its bytes changed since registration"
            ) from None
        warn_on_version(sklearn_version, name)
        try:
            pipeline = unpickle_pipeline(data, Path(artifact_path))
        except ModelError as exc:
            raise ExplanationUnavailable(f"model {name} version {version}: {exc}") from None
        force_single_thread(pipeline)
        return explainer_for(pipeline)
