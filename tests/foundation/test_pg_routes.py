"""Which PostgreSQL the suite uses beside a Docker engine that answers but cannot pull.

The engine here is a fake: a small HTTP server on a unix socket (DOCKER_HOST) that answers pings and
image lookups, refuses every pull the way an offline engine does, and records what it was asked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import ThreadingMixIn, UnixStreamServer
from urllib.parse import unquote, urlsplit

import pytest

from tests.pg import DEFAULT_IMAGE, choose_route
from tests.stack import ROOT

PULL_ERROR = "Get https://registry-1.docker.io/v2/: dial tcp: lookup registry-1.docker.io: no such host"


class FakeEngine(ThreadingMixIn, UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, images: set[str]) -> None:
        self.images = images
        self.requests: list[str] = []
        super().__init__(path, Handler)

    @property
    def pulls(self) -> list[str]:
        return [r for r in self.requests if "/images/create" in r]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeEngine

    def address_string(self) -> str:  # a unix socket has no client address
        return "fake-engine"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self, status: int, body: object) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.requests.append(f"GET {self.path}")
        path = unquote(urlsplit(self.path).path)
        if path.endswith("/_ping"):
            self.answer(200, "OK")
        elif path.endswith("/version"):
            self.answer(200, {"ApiVersion": "1.41", "MinAPIVersion": "1.12", "Version": "20.10.24"})
        elif "/images/" in path and path.endswith("/json"):
            name = path.split("/images/", 1)[1].removesuffix("/json")
            if name in self.server.images:
                self.answer(200, {"Id": "sha256:" + "0" * 64, "RepoTags": [name]})
            else:
                self.answer(404, {"message": f"No such image: {name}"})
        else:
            self.answer(500, {"message": f"the fake engine does not do {path}"})

    def do_POST(self) -> None:
        self.server.requests.append(f"POST {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.answer(500, {"message": PULL_ERROR if "/images/create" in self.path else "refused"})

    do_DELETE = do_POST


@pytest.fixture
def engine_factory() -> Iterator:
    directory = tempfile.mkdtemp(prefix="fake-docker-", dir="/tmp")  # a unix socket path is short
    servers: list[FakeEngine] = []

    def start(images: set[str] = frozenset()) -> FakeEngine:
        server = FakeEngine(os.path.join(directory, f"docker{len(servers)}.sock"), set(images))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def route_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TEST_DATABASE_URL", "TEST_POSTGRES_IMAGE", "TEST_POSTGRES_CONTAINER"):
        monkeypatch.delenv(name, raising=False)
    from testcontainers.core.config import testcontainers_config

    monkeypatch.setattr(testcontainers_config, "_ryuk_disabled", False)
    return monkeypatch


def use(monkeypatch: pytest.MonkeyPatch, engine: FakeEngine) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{engine.server_address}")


def test_suite_passes_on_the_embedded_cluster_beside_an_engine_that_refuses_pulls(engine_factory) -> None:
    engine = engine_factory()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "TESTCONTAINERS_"))}
    env["DOCKER_HOST"] = f"unix://{engine.server_address}"
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/foundation/test_schema.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert inner.returncode == 0, inner.stdout[-2000:] + inner.stderr[-2000:]
    assert "passed" in inner.stdout
    why = [line for line in inner.stderr.splitlines() if line.startswith("tests: ")]
    assert len(why) == 1, inner.stderr
    assert why[0].startswith("tests: embedded PostgreSQL, because")
    assert f"no image {DEFAULT_IMAGE!r}" in why[0] and "never pull" in why[0]
    assert engine.pulls == []
    assert any(f"/images/{DEFAULT_IMAGE}/json" in unquote(r) for r in engine.requests)
    assert not any("/containers/" in r for r in engine.requests), engine.requests


def test_the_image_setting_chooses_the_image_and_a_missing_ryuk_only_turns_ryuk_off(
    engine_factory, route_env: pytest.MonkeyPatch
) -> None:
    engine = engine_factory(images={"futurisys/postgres:local"})
    use(route_env, engine)
    route_env.setenv("TEST_POSTGRES_IMAGE", "futurisys/postgres:local")
    route = choose_route()
    assert (route.kind, route.image, route.ryuk) == ("container", "futurisys/postgres:local", False)
    assert "without Ryuk" in route.note
    assert engine.pulls == []


def test_the_default_image_when_present_is_used_with_ryuk_when_ryuk_is_present(
    engine_factory, route_env: pytest.MonkeyPatch
) -> None:
    from testcontainers.core.config import testcontainers_config

    engine = engine_factory(images={DEFAULT_IMAGE, testcontainers_config.ryuk_image})
    use(route_env, engine)
    route = choose_route()
    assert (route.kind, route.image, route.ryuk) == ("container", DEFAULT_IMAGE, True)


def test_container_route_off_never_asks_the_engine(engine_factory, route_env: pytest.MonkeyPatch) -> None:
    engine = engine_factory(images={DEFAULT_IMAGE})
    use(route_env, engine)
    route_env.setenv("TEST_POSTGRES_CONTAINER", "off")
    assert choose_route().kind == "embedded"
    assert engine.requests == []


def test_container_route_required_fails_instead_of_falling_back(
    engine_factory, route_env: pytest.MonkeyPatch
) -> None:
    use(route_env, engine_factory())
    route_env.setenv("TEST_POSTGRES_CONTAINER", "required")
    with pytest.raises(RuntimeError, match=r"no image 'postgres:17-alpine'"):
        choose_route()


def test_container_route_required_without_an_engine_says_so(
    route_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    route_env.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    route_env.setenv("TEST_POSTGRES_CONTAINER", "required")
    with pytest.raises(RuntimeError, match="no Docker engine answers"):
        choose_route()


def test_an_unknown_container_setting_is_refused_by_name(route_env: pytest.MonkeyPatch) -> None:
    route_env.setenv("TEST_POSTGRES_CONTAINER", "maybe")
    with pytest.raises(ValueError, match="TEST_POSTGRES_CONTAINER='maybe'"):
        choose_route()
