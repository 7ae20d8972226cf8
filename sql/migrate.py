"""Apply the numbered files of `sql/schema/` in order, once each, recorded with a checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from sql.named_queries import QUERIES
from sql.plans import Fetch, Plan, run

SCHEMA_DIR = Path(__file__).parent / "schema"
BOOTSTRAP = Path(__file__).parent / "schema_migrations.sql"
#: The server's group roles, created (when missing) before the schema files.
GROUP_ROLES = Path(__file__).parent / "roles.sql"
#: What each role may do, re-applied whole after the schema files on every run.
GRANTS = Path(__file__).parent / "grants.sql"


class SchemaDrift(RuntimeError):
    """An applied schema file was edited afterwards, or the database knows a file we do not."""


@dataclass(frozen=True)
class SchemaFile:
    name: str
    sql: str
    checksum: str

    @classmethod
    def read(cls, path: Path) -> SchemaFile:
        data = path.read_bytes()
        return cls(path.name, data.decode(), hashlib.sha256(data).hexdigest())


def schema_files(directory: Path = SCHEMA_DIR) -> list[SchemaFile]:
    """The schema files in the order they apply (by file name: 001_, 002_, ...)."""
    return [SchemaFile.read(p) for p in sorted(directory.glob("*.sql"))]


def check_applied(applied: dict[str, str], files: list[SchemaFile]) -> list[SchemaFile]:
    """Return the files still to apply; raise SchemaDrift when history and files disagree."""
    known = {f.name: f for f in files}
    for name, checksum in applied.items():
        if name not in known:
            raise SchemaDrift(f"database has schema file {name} applied, but sql/schema/ has no such file")
        if known[name].checksum != checksum:
            raise SchemaDrift(
                f"schema file {name} changed after it was applied "
                f"(applied sha256 {checksum[:12]}…, file now {known[name].checksum[:12]}…); "
                "add a new numbered file instead of editing an applied one"
            )
    return [f for f in files if f.name not in applied]


def migrate(conninfo: str, directory: Path = SCHEMA_DIR) -> list[str]:
    """Apply pending schema files in one transaction under an advisory lock; return their names.

    Around them, in the same transaction: the group roles first (sql/roles.sql), then every object
    handed to futurisys_owner and the grants re-applied (sql/grants.sql).
    """
    files = schema_files(directory)
    with psycopg.connect(conninfo) as conn:
        conn.execute(QUERIES["take_migration_lock"])
        conn.execute(BOOTSTRAP.read_text())
        conn.execute(GROUP_ROLES.read_text())
        pending = check_applied(run(conn, applied_files()), files)
        for f in pending:
            conn.execute(f.sql)
            conn.execute(QUERIES["record_migration"], {"filename": f.name, "checksum": f.checksum})
        hand_objects_to_owner(conn)
        conn.execute(GRANTS.read_text())
    return [f.name for f in pending]


def hand_objects_to_owner(conn: psycopg.Connection) -> None:
    """Make futurisys_owner own every object of the schema, also those the files just created."""
    conn.execute(QUERIES["hand_objects_to_owner"])


def applied_files() -> Plan[dict[str, str]]:
    """{file name: sha256} of the schema files the database has applied (schema_migrations exists)."""
    rows = yield Fetch(QUERIES["applied_migrations"])
    return {row["filename"]: row["checksum"] for row in rows}


def pending_files(directory: Path = SCHEMA_DIR) -> Plan[list[str]]:
    """Names of schema files not yet applied (raises SchemaDrift on a changed file): the one source of
    `pending_migrations` here and of the API's async one (service/repository/schema.py, for /health)."""
    (table,) = yield Fetch(QUERIES["migrations_table_exists"])
    applied = (yield from applied_files()) if table["present"] else {}
    return [f.name for f in check_applied(applied, schema_files(directory))]


def pending_migrations(conn: psycopg.Connection, directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files not yet applied (raises SchemaDrift on a changed file)."""
    return run(conn, pending_files(directory))
