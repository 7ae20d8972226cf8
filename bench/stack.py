"""The benchmark's own stack: an embedded PostgreSQL in a temp directory, the API and listeners."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import psycopg
from psycopg import sql as pgsql

from scripts import processes
from scripts.processes import ROOT, python
from sql.embedded import EmbeddedPostgres
from sql.migrate import migrate


class BenchStack:
    """One embedded cluster; a fresh migrated database per scenario; processes started on demand."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.server = EmbeddedPostgres(workdir / "pgdata")
        self.base_env = env
        self.procs: list[subprocess.Popen] = []
        self._n = 0

    def new_database(self) -> str:
        """Create a fresh database with the schema and the trained models registered."""
        self._n += 1
        name = f"bench_{self._n}"
        with psycopg.connect(self.server.url(), autocommit=True) as conn:
            conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
        url = self.server.url(name)
        migrate(url)
        self.run_module("model_store", url)
        return url

    def env(self, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **self.base_env, **(extra or {}), "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}

    def run_module(self, module: str, url: str, *args: str) -> None:
        subprocess.run(
            python("-m", module, *args),
            cwd=ROOT,
            env=self.env(url),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def log(self, module: str) -> Path:
        return self.workdir / f"{module}-{len(self.procs)}.log"

    def start(self, module: str, url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        proc = processes.start(python("-m", module, *args), self.env(url, env), self.log(module))
        self.procs.append(proc)
        return proc

    def start_listener(self, url: str, *args: str) -> subprocess.Popen:
        """A listener, returned once it is LISTENing with its models loaded (its heartbeat row exists):
        on a busy machine its start alone may outlast a request's wait."""
        with psycopg.connect(url, autocommit=True) as conn:

            def alive() -> int:
                row = conn.execute("SELECT count(*) FROM listener_heartbeats WHERE stopped_at IS NULL")
                return row.fetchone()[0]  # type: ignore[index]

            running = alive()
            log = self.log("listener")
            proc = self.start("listener", url, *args)
            processes.wait_until(lambda: alive() > running, proc, "the listener's heartbeat", 300, log, 0.02)
        return proc

    def start_api(self, url: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
        """The API on a free port, returned with its base URL once /health is 200 from it: another bench
        or test on a shared machine may take the port between its pick and the bind (then a new one).
        `env`: settings of this API process only (an A/B against another API on the same database)."""
        log = self.log("service")
        proc, base = processes.serve(
            lambda port: python("-m", "service", "--host", "127.0.0.1", "--port", str(port)),
            self.env(url, env),
            "/health",
            60,
            log,
        )
        self.procs.append(proc)
        return proc, base

    def stop(self, proc: subprocess.Popen) -> None:
        processes.stop(proc, timeout=20)

    def stop_all(self) -> None:
        processes.stop_all([("bench process", proc) for proc in self.procs], timeout=20)
        self.procs.clear()

    def cpu(self, **procs: subprocess.Popen) -> dict[str, float]:
        """CPU seconds used so far by each named process, and by PostgreSQL (the postmaster and its
        backends): differences over a run say where its time went, whatever else loads the machine."""
        out = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        pid = self.server.pid
        out["postgres"] = cpu_seconds(pid, with_children=True) if pid else 0.0
        return out

    def postgres_version(self) -> str:
        with psycopg.connect(self.server.url()) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return row[0] if row else "?"


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """User + system CPU seconds a process has used; with_children (the postmaster), its backends' too: the
    live ones', and those that exited since (an autovacuum worker, a closed connection), which the
    postmaster counts once it has reaped them."""
    try:
        root = psutil.Process(pid)
        procs = [root, *(root.children(recursive=True) if with_children else [])]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
        if with_children and proc is root:
            total += times.children_user + times.children_system
    return total


def rss_mb(proc: subprocess.Popen) -> float:
    return psutil.Process(proc.pid).memory_info().rss / 2**20


@contextmanager
def bench_stack(env: dict[str, str]) -> Iterator[BenchStack]:
    workdir = Path(tempfile.mkdtemp(prefix="futurisys-bench-"))
    stack = BenchStack(workdir, env)
    try:
        yield stack
    finally:
        stack.stop_all()
        stack.server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
