"""prediction_requests and the tables referencing it are partitioned (016), and the database still keeps
every key: one result per request, one request per idempotency key, one request per public request_id,
across partitions too. A database that already holds requests is converted without losing any."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from service.ids import new_request_id
from sql.migrate import SCHEMA_DIR, migrate
from sql.named_queries import QUERIES
from tests.pg import Databases, database_url

PARTITIONING = "016_partitioned_requests.sql"
FAMILY = {
    "prediction_requests": "id",
    "prediction_results": "request_id",
    "prediction_outcomes": "request_id",
    "explanation_requests": "request_id",
    "prediction_explanations": "request_id",
    "shadow_predictions": "request_id",
}


def insert(conn: psycopg.Connection, key: str | None = None, request_id: str | None = None) -> list[tuple]:
    return conn.execute(
        QUERIES["insert_prediction_request"],
        {
            "request_id": request_id or str(uuid.uuid4()),
            "model_name": "logistic",
            "features": '{"age": 41}',
            "idempotency_key": key,
            "subject_ref": None,
            "api_key_id": None,
        },
    ).fetchall()


def open_next_epoch(conn: psycopg.Connection) -> None:
    epoch = conn.execute(QUERIES["current_epoch"]).fetchone()[0]  # type: ignore[index]
    conn.execute("SELECT ensure_request_partition(%s)", [epoch + 1])
    conn.execute(QUERIES["open_epoch"], {"epoch": epoch + 1})


def test_every_table_referencing_requests_is_partitioned_with_them(conn: psycopg.Connection) -> None:
    # A table added later with a foreign key to prediction_requests must be partitioned the same way
    # (ensure_request_partition then gives it its partitions), or retention refuses to run.
    referencing = conn.execute(
        "SELECT c.conrelid::regclass::text, t.relkind, pg_get_partkeydef(c.conrelid)"
        " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
        " WHERE c.contype = 'f' AND c.confrelid = 'prediction_requests'::regclass AND c.conparentid = 0"
    ).fetchall()
    assert referencing, "no table references prediction_requests?"
    for table, kind, key in referencing:
        assert kind == "p", f"{table} references prediction_requests but is not partitioned"
        assert key == "RANGE (request_id)" or table in FAMILY, (table, key)
    family = dict(
        conn.execute("SELECT table_name::text, partition_column::text FROM request_partition_family()")
    )
    assert FAMILY.items() <= family.items()
    assert conn.execute("SELECT pg_get_partkeydef('prediction_requests'::regclass)").fetchone() == (
        "RANGE (id)",
    )


def test_keys_hold_across_partitions(conn: psycopg.Connection) -> None:
    public = str(uuid.uuid4())
    [(first_public, *_)] = insert(conn, key="retry-me", request_id=public)
    first = conn.execute("SELECT id FROM prediction_requests WHERE request_id = %s", [public]).fetchone()
    assert first is not None
    open_next_epoch(conn)

    # The retry lands in the new epoch: nothing inserted, the original found by its key.
    assert insert(conn, key="retry-me") == []
    assert conn.execute(
        QUERIES["find_request_by_idempotency_key"], {"idempotency_key": "retry-me"}
    ).fetchall()[0][0] == uuid.UUID(public)
    # A batch mixing a used key, a new key twice and no key: one row per new key.
    conn.execute(
        QUERIES["insert_prediction_batch"],
        {
            "model_name": "logistic",
            "request_ids": [str(uuid.uuid4()) for _ in range(4)],
            "items": '[{"age": 1}, {"age": 2}, {"age": 3}, {"age": 4}]',
            "idempotency_keys": ["retry-me", "fresh", "fresh", None],
            "subject_refs": None,
            "api_key_id": None,
        },
    )
    keys = conn.execute(
        "SELECT idempotency_key, count(*) FROM prediction_requests GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert keys == [("fresh", 1), ("retry-me", 1), (None, 1)]

    # The public id of a request in the old epoch cannot be given to a new one.
    with pytest.raises(psycopg.errors.UniqueViolation, match="request_id"):
        insert(conn, request_id=public)
    # Nor twice within one epoch.
    again = str(uuid.uuid4())
    insert(conn, request_id=again)
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO prediction_requests (request_id, model_name, features)"
            " VALUES (%s, 'logistic', '{}')",
            [again],
        )

    # One result per request, whichever epoch holds it.
    write = (
        "INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)"
        " VALUES (%s, 1, 0.9, 'v1', %s)"
    )
    conn.execute(write, [first[0], "0" * 64])
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(write, [first[0], "0" * 64])
    # A result for no request at all is refused (the foreign key holds on the partitioned tables).
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(write, [first[0] + 1_000_000, "0" * 64])
    assert first_public == uuid.UUID(public)


def test_concurrent_retries_with_one_key_store_one_request(db_url: str) -> None:
    barrier = threading.Barrier(8)
    answers: list[list[tuple]] = []

    def retry() -> None:
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait()
            answers.append(insert(c, key="same-key"))

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(a) for a in answers) == [0] * 7 + [1]
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*) FROM prediction_requests").fetchone() == (1,)


def test_lookups_by_public_id_use_each_partition_index(conn: psycopg.Connection) -> None:
    insert(conn)
    open_next_epoch(conn)
    insert(conn)
    plan = "\n".join(
        r[0]
        for r in conn.execute(
            "EXPLAIN (COSTS OFF) SELECT * FROM prediction_requests WHERE request_id = %s", [str(uuid.uuid4())]
        ).fetchall()
    )
    assert "Seq Scan" not in plan and "request_id_key" in plan, plan


@pytest.fixture
def migrated_before_partitioning(databases: Databases, tmp_path: Path) -> tuple[str, Path]:
    """A database migrated with every schema file before 016, and a directory holding all of them."""
    before = tmp_path / "before"
    before.mkdir()
    for path in SCHEMA_DIR.glob("*.sql"):
        if path.name < PARTITIONING:
            shutil.copy(path, before)
    name = databases.create()
    url = database_url(databases.server_url, name)
    migrate(url, before)
    yield url, before
    databases.drop(name)


def test_a_database_holding_requests_is_partitioned_without_losing_any(
    migrated_before_partitioning: tuple[str, Path],
) -> None:
    url, schema = migrated_before_partitioning
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO prediction_requests (model_name, features, idempotency_key, subject_ref, status)"
            " SELECT 'logistic', jsonb_build_object('age', g), 'key-' || g, 'subject-' || (g % 7),"
            "        'completed'"
            " FROM generate_series(1, 5000) g"
        )
        conn.execute(
            "INSERT INTO prediction_results"
            " (request_id, prediction, probability, model_version, model_sha256)"
            " SELECT id, 1, 0.75, 'v1', repeat('0', 64) FROM prediction_requests"
        )
        conn.execute(
            "INSERT INTO prediction_outcomes (request_id, label, observed_at, source)"
            " SELECT id, 0, now(), 'test' FROM prediction_requests WHERE id <= 100"
        )
        conn.execute(
            "INSERT INTO explanation_requests (request_id) SELECT id FROM prediction_requests WHERE id <= 10"
        )
        # A view and grants over the tables, as a DBA (or a later schema file) may have added.
        conn.execute("CREATE VIEW request_models AS SELECT id, model_name FROM prediction_requests")
        conn.execute("COMMENT ON VIEW request_models IS 'models asked for'")
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'retention_test_reader')"
            " THEN CREATE ROLE retention_test_reader NOLOGIN; END IF; END $$"
        )
        conn.execute("GRANT SELECT ON request_models, prediction_requests TO retention_test_reader")
        conn.execute("GRANT SELECT (request_id, probability) ON prediction_results TO retention_test_reader")
        before = conn.execute(
            "SELECT r.id, r.request_id, r.features, r.idempotency_key, r.subject_ref, r.created_at,"
            " s.probability"
            " FROM prediction_requests r JOIN prediction_results s ON s.request_id = r.id ORDER BY r.id"
        ).fetchall()

    shutil.copy(SCHEMA_DIR / PARTITIONING, schema)
    for path in SCHEMA_DIR.glob("*.sql"):
        shutil.copy(path, schema)
    assert PARTITIONING in migrate(url, schema)

    with psycopg.connect(url, autocommit=True) as conn:
        after = conn.execute(
            "SELECT r.id, r.request_id, r.features, r.idempotency_key, r.subject_ref, r.created_at,"
            " s.probability"
            " FROM prediction_requests r JOIN prediction_results s ON s.request_id = r.id ORDER BY r.id"
        ).fetchall()
        assert after == before
        kinds = dict(
            conn.execute(
                "SELECT relname, relkind FROM pg_class WHERE relname = ANY (%s)", [list(FAMILY)]
            ).fetchall()
        )
        assert kinds == dict.fromkeys(FAMILY, "p")
        assert conn.execute("SELECT count(*) FROM prediction_outcomes").fetchone() == (100,)
        assert conn.execute("SELECT count(*) FROM explanation_requests").fetchone() == (10,)
        # The rows sit in epoch 0; new ones continue after them, in the same epoch.
        assert conn.execute("SELECT count(*) FROM prediction_requests_p0").fetchone() == (5000,)
        [(new_id, *_)] = conn.execute(
            "INSERT INTO prediction_requests (model_name, features) VALUES ('logistic', '{}') RETURNING id"
        ).fetchall()
        assert new_id > 5000 and new_id < 2**40
        # Keys still hold for the migrated rows.
        assert insert(conn, key="key-17") == []
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO prediction_results"
                " (request_id, prediction, probability, model_version, model_sha256)"
                " VALUES (1, 0, 0.1, 'v1', repeat('0', 64))"
            )
        # The view, its comment and the grants came through.
        assert conn.execute("SELECT count(*) FROM request_models").fetchone() == (5001,)
        assert conn.execute("SELECT obj_description('request_models'::regclass)").fetchone() == (
            "models asked for",
        )
        privileges = conn.execute(
            "SELECT has_table_privilege('retention_test_reader', 'prediction_requests', 'SELECT'),"
            " has_table_privilege('retention_test_reader', 'request_models', 'SELECT'),"
            " has_column_privilege('retention_test_reader', 'prediction_results', 'probability', 'SELECT'),"
            " has_column_privilege('retention_test_reader', 'prediction_results', 'model_sha256', 'SELECT')"
        ).fetchone()
        assert privileges == (True, True, True, False)
        # Every object, partitions included, belongs to futurisys_owner (python -m sql hands them over).
        others = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relowner <> 'futurisys_owner'::regrole"
        ).fetchall()
        assert others == []
        # Indexes and comments too.
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'prediction_requests'"
            ).fetchall()
        }
        assert {"prediction_requests_pending_idx", "prediction_requests_subject_ref_idx"} <= indexes
        assert conn.execute("SELECT obj_description('prediction_requests'::regclass)").fetchone()[0]  # type: ignore[index]


@pytest.mark.parametrize("version", [4, 7])
def test_a_large_batch_reusing_a_public_id_of_an_older_partition_is_refused(
    conn: psycopg.Connection, version: int
) -> None:
    # A large batch of UUIDv7 ids minted together (what the API sends) is checked by their time span;
    # other ids one by one. Either way the reused id is found.
    ids = [str(new_request_id() if version == 7 else uuid.uuid4()) for _ in range(500)]
    old = ids[250]
    insert(conn, request_id=old)
    open_next_epoch(conn)
    batch = {
        "model_name": "logistic",
        "items": json.dumps([{"age": i} for i in range(500)]),
        "idempotency_keys": None,
        "subject_refs": None,
        "api_key_id": None,
    }
    with pytest.raises(psycopg.errors.UniqueViolation, match="request_id"):
        conn.execute(QUERIES["insert_prediction_batch"], {**batch, "request_ids": ids})
    fresh = [i for i in ids if i != old]
    conn.execute(
        QUERIES["insert_prediction_batch"], {**batch, "request_ids": fresh, "items": json.dumps([{}] * 499)}
    )
    assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (500,)
