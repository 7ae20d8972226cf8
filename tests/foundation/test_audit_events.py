"""audit_events: the database records admin actions itself, with who and why, and refuses to forget."""

from __future__ import annotations

import json

import psycopg
import pytest

from service.repository.api_keys import create_key, revoke_key


def _events(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT actor, action, subject, details FROM audit_events ORDER BY id").fetchall()


def _register(conn: psycopg.Connection, version: str) -> None:
    conn.execute(
        "INSERT INTO model_versions"
        " (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
        " VALUES ('logistic', %s, 'logistic.joblib', %s, '1.0', '{}')",
        (version, version[0] * 64),
    )


def test_keys_created_and_revoked_are_audited_whatever_path_made_them(conn: psycopg.Connection) -> None:
    create_key(conn, "analyst")
    revoke_key(conn, "analyst")
    user = conn.execute("SELECT session_user").fetchone()[0]
    assert _events(conn) == [(user, "key.created", "analyst", {}), (user, "key.revoked", "analyst", {})]


def test_a_promotion_records_both_versions_and_the_stated_actor_and_reason(conn: psycopg.Connection) -> None:
    _register(conn, "a1")
    _register(conn, "b2")
    conn.execute("INSERT INTO model_deployments (model_name, version) VALUES ('logistic', 'a1')")
    with conn.transaction():
        conn.execute("SELECT set_audit_context('cli:alice', %s)", (json.dumps({"reason": "better CV"}),))
        conn.execute("UPDATE model_deployments SET version = 'b2' WHERE model_name = 'logistic'")
    conn.execute("UPDATE model_deployments SET updated_at = now()")  # no version nor default change
    events = _events(conn)
    assert [e[1] for e in events] == ["model.deployed", "model.promoted"]
    assert events[1][0] == "cli:alice"
    assert events[1][3] == {"from_version": "a1", "to_version": "b2", "reason": "better CV"}


def test_a_change_of_default_is_a_promotion_that_says_which_model_it_replaced(
    conn: psycopg.Connection,
) -> None:
    # schema 012: making an already deployed model the default changes no version, yet it is a promotion.
    _register(conn, "a1")
    conn.execute(
        "INSERT INTO model_versions"
        " (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
        " VALUES ('dummy', 'd1', 'dummy.joblib', repeat('d', 64), '1.0', '{}')"
    )
    conn.execute("INSERT INTO model_deployments VALUES ('logistic', 'a1', true), ('dummy', 'd1', false)")
    with conn.transaction():
        conn.execute("UPDATE model_deployments SET is_default = false WHERE model_name = 'logistic'")
        conn.execute("UPDATE model_deployments SET is_default = true WHERE model_name = 'dummy'")
    events = _events(conn)
    assert [(e[1], e[2]) for e in events][-1] == ("model.promoted", "dummy")
    assert events[-1][3] == {
        "from_version": "d1",
        "to_version": "d1",
        "from_default": {"model": "logistic", "version": "a1"},
    }
    assert len(events) == 3  # two deployments, one promotion: losing the default is not an event of its own


def test_the_context_lasts_one_transaction(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT set_audit_context('key:ops', '{\"reason\": \"x\"}')")
    conn.execute("SELECT audit('data.erased', 'subject-7', '{\"requests\": 2}')")
    assert _events(conn)[0][0] != "key:ops"
    assert _events(conn)[0][3] == {"requests": 2}


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor = 'nobody'", "DELETE FROM audit_events", "TRUNCATE audit_events"],
)
def test_the_trail_is_append_only(conn: psycopg.Connection, statement: str) -> None:
    create_key(conn, "k")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute(statement)
    assert len(_events(conn)) == 1
