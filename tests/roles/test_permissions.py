"""What each role may do, tried by logging in as it: the database refuses what a role must not do."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from listener.claims import claim_pending, record_outcomes
from listener.heartbeat import Heartbeat
from listener.outcomes import BatchOutcome
from tests.logins import login_url

FEATURES = json.dumps({"age": 41, "monthly_income": 5993})
SHA = "a" * 64


def connect_as(db_url: str, process: str) -> psycopg.Connection:
    return psycopg.connect(login_url(db_url, process), autocommit=True)


@pytest.fixture
def api(db_url: str) -> Iterator[psycopg.Connection]:
    with connect_as(db_url, "api") as c:
        yield c


@pytest.fixture
def listener(db_url: str) -> Iterator[psycopg.Connection]:
    with connect_as(db_url, "listener") as c:
        yield c


@pytest.fixture
def analyst(db_url: str) -> Iterator[psycopg.Connection]:
    with connect_as(db_url, "analyst") as c:
        yield c


@pytest.fixture
def answered(conn: psycopg.Connection) -> int:
    """A registered model and one answered request with an outcome, written by the owner (superuser)."""
    conn.execute(
        "INSERT INTO model_versions"
        " (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
        " VALUES ('logistic', 'v1', 'logistic.joblib', %s, '1.6', '{}')",
        [SHA],
    )
    conn.execute(
        "INSERT INTO model_deployments (model_name, version, is_default) VALUES ('logistic', 'v1', true)"
    )
    conn.execute("INSERT INTO api_keys (name, key_sha256) VALUES ('dashboard', %s)", ["b" * 64])
    (request,) = conn.execute(
        "INSERT INTO prediction_requests (model_name, features, subject_ref, status, completed_at)"
        " VALUES ('logistic', %s, 'E-1001', 'completed', now()) RETURNING id",
        [FEATURES],
    ).fetchone()
    conn.execute(
        "INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)"
        " VALUES (%s, 1, 0.8, 'v1', %s)",
        [request, SHA],
    )
    conn.execute(
        "INSERT INTO prediction_outcomes (request_id, label, observed_at, source)"
        " VALUES (%s, 1, now(), 'test')",
        [request],
    )
    return request


def refused(conn: psycopg.Connection, statement: str, params: object = None) -> str:
    """Run `statement`; return PostgreSQL's message, failing the test unless it is permission denied."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as denied:
        conn.execute(statement, params)
    return str(denied.value)


def test_each_process_logs_in_as_its_own_role(api, listener, analyst) -> None:
    pairs = ((api, "futurisys_api"), (listener, "futurisys_listener"), (analyst, "futurisys_analyst"))
    for conn, group in pairs:
        user, is_member, superuser = conn.execute(
            "SELECT current_user, pg_has_role(current_user, %s, 'MEMBER'),"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
            [group],
        ).fetchone()
        assert is_member and not superuser, user


API_REFUSED = [
    "DELETE FROM prediction_results",
    f"UPDATE model_versions SET sha256 = '{'0' * 64}'",
    "INSERT INTO model_versions (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
    f" VALUES ('logistic', 'v9', 'evil.joblib', '{'0' * 64}', '1.6', '{{}}')",
    "UPDATE model_deployments SET version = 'v1'",
    "DELETE FROM prediction_requests",
    "UPDATE prediction_requests SET features = '{}'",
    "INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)"
    f" SELECT id, 0, 0.1, 'v1', '{SHA}' FROM prediction_requests",
    "UPDATE prediction_results SET probability = 0.1",
    "DELETE FROM prediction_outcomes",
    "INSERT INTO api_keys (name, key_sha256) VALUES ('mine', repeat('c', 64))",
    "UPDATE api_keys SET revoked_at = NULL",
    "TRUNCATE prediction_requests CASCADE",
    "DROP TABLE prediction_results",
    "DROP TABLE prediction_requests CASCADE",
    "DROP VIEW analyst_predictions",
    "ALTER TABLE prediction_results DROP CONSTRAINT prediction_results_request_id_key",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "CREATE TABLE mine (x int)",
    "DROP FUNCTION erase_subject(text)",
    "SELECT * FROM erase_subject('E-1001')",
    "INSERT INTO audit_events (actor, action) VALUES ('me', 'key.created')",
]


@pytest.mark.parametrize("statement", API_REFUSED)
def test_the_api_role_cannot_delete_results_rewrite_a_sha256_or_drop_anything(
    api: psycopg.Connection, conn: psycopg.Connection, answered: int, statement: str
) -> None:
    message = refused(api, statement)
    assert "permission denied" in message or "must be owner" in message
    assert conn.execute("SELECT sha256 FROM model_versions").fetchone() == (SHA,)
    assert conn.execute("SELECT count(*) FROM prediction_results").fetchone() == (1,)


def test_the_api_role_submits_reads_and_records_outcomes(api: psycopg.Connection, answered: int) -> None:
    api.execute("INSERT INTO prediction_requests (model_name, features) VALUES ('logistic', %s)", [FEATURES])
    assert api.execute("SELECT count(*) FROM prediction_requests").fetchone() == (2,)
    assert api.execute("SELECT probability FROM prediction_results").fetchone() == (0.8,)
    assert api.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)
    api.execute("UPDATE prediction_outcomes SET superseded_at = now()")
    api.execute(
        "INSERT INTO prediction_outcomes (request_id, label, observed_at, source)"
        " VALUES (%s, 0, now(), 'api')",
        [answered],
    )
    api.execute("INSERT INTO explanation_requests (request_id) VALUES (%s)", [answered])


def test_the_listener_claims_writes_a_result_and_finishes_the_request(
    listener: psycopg.Connection, conn: psycopg.Connection, answered: int
) -> None:
    (pending,) = conn.execute(
        "INSERT INTO prediction_requests (model_name, features) VALUES ('logistic', %s) RETURNING id",
        [FEATURES],
    ).fetchone()
    beat = Heartbeat("host:1:0", "notify")
    beat.register(listener)
    claims = claim_pending(listener, "host:1:0", batch_size=10, lease_seconds=30)
    assert [c.id for c in claims] == [pending]
    assert listener.execute("SELECT sha256 FROM model_versions WHERE version = 'v1'").fetchone() == (SHA,)
    outcome = BatchOutcome()
    outcome.add_results([pending], [0], [0.2], "v1", SHA)
    recorded = record_outcomes(listener, "host:1:0", outcome)
    assert (recorded.completed, recorded.failed) == (1, 0)
    beat.count(recorded.completed, recorded.failed)
    beat.beat(listener)
    beat.stopped(listener)
    assert conn.execute("SELECT status FROM prediction_requests WHERE id = %s", [pending]).fetchone() == (
        "completed",
    )


LISTENER_REFUSED = [
    "SELECT * FROM api_keys",
    "UPDATE api_keys SET revoked_at = now()",
    "DELETE FROM api_keys",
    f"UPDATE model_versions SET sha256 = '{'0' * 64}'",
    "DELETE FROM model_versions",
    "INSERT INTO model_versions (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
    f" VALUES ('logistic', 'v9', 'evil.joblib', '{'0' * 64}', '1.6', '{{}}')",
    "UPDATE model_deployments SET version = 'v1'",
    "UPDATE prediction_requests SET features = '{}'",
    "UPDATE prediction_requests SET subject_ref = 'someone-else'",
    "INSERT INTO prediction_requests (model_name, features) VALUES ('logistic', '{}')",
    "DELETE FROM prediction_results",
    "UPDATE prediction_results SET prediction = 0",
    "SELECT * FROM prediction_outcomes",
    "SELECT * FROM audit_events",
    "SELECT audit('key.created', 'x', '{}')",
    "DROP TABLE listener_heartbeats",
]


@pytest.mark.parametrize("statement", LISTENER_REFUSED)
def test_the_listener_role_cannot_touch_keys_model_versions_or_features(
    listener: psycopg.Connection, answered: int, statement: str
) -> None:
    message = refused(listener, statement)
    assert "permission denied" in message or "must be owner" in message


def test_the_analyst_reads_features_through_the_view_without_who_they_are_about(
    analyst: psycopg.Connection, answered: int
) -> None:
    row = analyst.execute(
        "SELECT features, prediction, probability, model_version, outcome_label FROM analyst_predictions"
    ).fetchone()
    assert row == ({"age": 41, "monthly_income": 5993}, 1, 0.8, "v1", 1)
    columns = {c.name for c in analyst.execute("SELECT * FROM analyst_predictions LIMIT 0").description or []}
    assert not columns & {"subject_ref", "idempotency_key", "api_key_id", "id", "source"}
    assert analyst.execute("SELECT count(*) FROM model_versions").fetchone() == (1,)


ANALYST_REFUSED = [
    "SELECT * FROM prediction_requests",
    "SELECT subject_ref FROM prediction_requests",
    "SELECT * FROM prediction_outcomes",
    "SELECT * FROM api_keys",
    "SELECT * FROM audit_events",
    "INSERT INTO prediction_requests (model_name, features) VALUES ('logistic', '{}')",
    "UPDATE model_deployments SET version = 'v1'",
    "DELETE FROM listener_heartbeats",
    f"UPDATE model_versions SET sha256 = '{'0' * 64}'",
    "INSERT INTO listener_heartbeats (listener_id, hostname, pid, mode) VALUES ('x', 'h', 1, 'poll')",
    "DELETE FROM model_availability",
    "SELECT audit('key.created', 'x', '{}')",
    "CREATE TABLE mine (x int)",
]


@pytest.mark.parametrize("statement", ANALYST_REFUSED)
def test_the_analyst_role_writes_nothing_and_reads_no_subject(
    analyst: psycopg.Connection, answered: int, statement: str
) -> None:
    message = refused(analyst, statement)
    assert "permission denied" in message


@pytest.mark.parametrize("process", ["api", "listener", "analyst"])
@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"]
)
def test_the_audit_trail_is_append_only_for_every_application_role(
    db_url: str, conn: psycopg.Connection, answered: int, process: str, statement: str
) -> None:
    events = conn.execute("SELECT count(*) FROM audit_events").fetchone()
    with connect_as(db_url, process) as role:
        refused(role, statement)
    assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == events != (0,)
