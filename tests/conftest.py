"""Database fixtures: one server per session, one migrated template, one fresh database per test.

Everything else asks for `db_url` (a fresh migrated database) or `conn` (a connection to it).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.link import Link
from tests.logins import drop_session_logins
from tests.pg import Databases, database_url, postgres_server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Train the shared store (when its cache is cold) before any test runs: training takes minutes,
    longer than a test's timeout, and only sessions with a test that uses it pay for it."""
    if config.option.collectonly or not any("trained_store" in getattr(i, "fixturenames", ()) for i in items):
        return
    from tests.model_cache import cached_store

    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        cached_store(lambda line: print(line, file=sys.stderr, flush=True))


@pytest.fixture(scope="session")
def pg_server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Admin conninfo of the session's PostgreSQL server (see tests/pg.py for which one)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:  # past pytest's capture: `make test` shows why it chose its server
        with capture.global_and_fixture_disabled():
            print(line, file=sys.stderr, flush=True)

    with postgres_server(say) as url:
        try:
            yield url
        finally:
            drop_session_logins()


@pytest.fixture(scope="session")
def databases(pg_server_url: str) -> Iterator[Databases]:
    dbs = Databases(pg_server_url)
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture(scope="session")
def template_db(databases: Databases) -> str:
    """Name of a database with every schema file applied, cloned for each test."""
    return databases.create_migrated()


@pytest.fixture
def db_url(databases: Databases, template_db: str) -> Iterator[str]:
    """Conninfo of a fresh, fully migrated database, dropped after the test."""
    name = databases.create(template=template_db)
    try:
        yield database_url(databases.server_url, name)
    finally:
        databases.drop(name)


@pytest.fixture
def empty_db_url(databases: Databases) -> Iterator[str]:
    """Conninfo of a database that exists but has none of the schema files applied, dropped after the test."""
    name = databases.create()
    try:
        yield database_url(databases.server_url, name)
    finally:
        databases.drop(name)


@pytest.fixture
def db_link(pg_server_url: str) -> Iterator[Link]:
    """A link to the session's server that the test can cut and restore (tests/link.py): an outage
    made the same way whichever server the session has, seen only by the processes routed through it."""
    with Link(pg_server_url) as link:
        yield link


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's fresh database."""
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store directory with the real models trained for the session: a private copy of the
    store cached under .pytest_cache, keyed by the training code and library versions (training takes
    minutes; tests may add files to their copy)."""
    from tests.model_cache import cached_store

    store = tmp_path_factory.mktemp("model_store") / "store"
    shutil.copytree(cached_store(), store)
    return store


@pytest.fixture
def store(trained_store: Path, tmp_path: Path) -> Path:
    """A private copy of the trained store for one test, free to tamper with or add versions to."""
    copy = tmp_path / "store"
    shutil.copytree(trained_store, copy)
    return copy


@pytest.fixture
def models_db(db_url: str, trained_store: Path) -> str:
    """The test's fresh database with the trained models registered and deployed: its conninfo."""
    from model_store.registration import register_manifest

    register_manifest(db_url, trained_store)
    return db_url


@pytest.fixture(scope="session")
def stand_in_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four stand-in models written as a model store (artifacts and manifest.json, version test-1):
    made in a blink, where the trained store takes minutes."""
    from model_store.stand_ins import write_stand_in_store

    store = tmp_path_factory.mktemp("stand_ins") / "store"
    write_stand_in_store(store)
    return store


@pytest.fixture
def stand_in_env(db_url: str, stand_in_store: Path) -> dict[str, str]:
    """The stand-ins deployed in the test's database: the environment of an API or listener process
    serving them (from MODEL_STORE_DIR, as it serves trained models)."""
    from tests.stand_ins import deploy_stand_ins

    return deploy_stand_ins(db_url, stand_in_store)


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    """A data directory for an embedded cluster, outside pytest's tmp_path: as root, pgserver runs
    PostgreSQL as its own user, and any other pytest session on the machine chmods /tmp/pytest-of-root
    back to 0700 when it starts, locking that user out mid-initdb."""
    parent = Path(tempfile.mkdtemp(prefix="futurisys-pgdata-"))
    try:
        yield parent / "pgdata"
    finally:
        shutil.rmtree(parent, ignore_errors=True)
