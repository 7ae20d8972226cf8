"""Every table and view has a grant decision, and the database holds exactly the grants decided.

Adding a table? Grant what each role needs in sql/grants.sql (re-applied by every python -m sql run),
then add the table to DECIDED below: `{}` means owner only.
"""

from __future__ import annotations

import psycopg

REQUEST_STATE = "status,claimed_at,claimed_by,lease_until,attempts,completed_at,error"

#: relation -> {group role suffix: "PRIVILEGE PRIVILEGE(col,col) ..."}; table-level privileges only as
#: written, column-level ones as PRIVILEGE(columns).
DECIDED: dict[str, dict[str, str]] = {
    "schema_migrations": {"api": "SELECT", "listener": "SELECT"},
    "prediction_requests": {"api": "SELECT INSERT", "listener": f"SELECT UPDATE({REQUEST_STATE})"},
    "prediction_results": {"api": "SELECT", "listener": "SELECT INSERT"},
    "model_versions": {"api": "SELECT", "listener": "SELECT", "analyst": "SELECT"},
    "model_deployments": {"api": "SELECT", "listener": "SELECT", "analyst": "SELECT"},
    "listener_heartbeats": {
        "api": "SELECT",
        "listener": "SELECT INSERT UPDATE(last_seen_at,processed,failed,stopped_at,hostname,pid,mode,"
        "started_at)",
        "analyst": "SELECT",
    },
    "model_availability": {"api": "SELECT", "listener": "SELECT INSERT UPDATE DELETE", "analyst": "SELECT"},
    "api_keys": {"api": "SELECT"},
    "prediction_outcomes": {"api": "SELECT INSERT UPDATE(superseded_at)"},
    "explanation_requests": {
        "api": "SELECT INSERT UPDATE(status,requested_at,attempts,error,claimed_at,completed_at,lease_until)",
        "listener": f"SELECT UPDATE({REQUEST_STATE})",
    },
    "prediction_explanations": {"api": "SELECT", "listener": "SELECT INSERT"},
    "audit_events": {"api": "SELECT"},
    "analyst_predictions": {"api": "SELECT", "analyst": "SELECT"},
    "analyst_explanations": {"api": "SELECT", "analyst": "SELECT"},
    "model_shadows": {"api": "SELECT", "listener": "SELECT", "analyst": "SELECT"},
    "shadow_predictions": {"api": "SELECT", "listener": "SELECT INSERT"},
}

ROLES = ("owner", "api", "listener", "analyst")

# Privileges held by anyone but the owner, on relations of the schema (partitions are reached through
# their parent, whose privileges PostgreSQL checks): table-level, then column-level.
GRANTS = """
SELECT c.relname, coalesce(g.rolname, 'PUBLIC'), a.privilege_type
FROM pg_class c
CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition AND a.grantee <> c.relowner
UNION ALL
SELECT c.relname, coalesce(g.rolname, 'PUBLIC'), a.privilege_type || '(' || att.attname || ')'
FROM pg_class c
JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
CROSS JOIN LATERAL aclexplode(att.attacl) a
LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
"""

RELATIONS = """
SELECT relname FROM pg_class
WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT relispartition
"""


def expand(spec: str) -> set[str]:
    """'SELECT UPDATE(a,b)' -> {'SELECT', 'UPDATE(a)', 'UPDATE(b)'}."""
    out: set[str] = set()
    for word in spec.split():
        if "(" in word:
            privilege, columns = word.rstrip(")").split("(")
            out |= {f"{privilege}({c})" for c in columns.split(",")}
        else:
            out.add(word)
    return out


def test_every_table_and_view_has_a_grant_decision(conn: psycopg.Connection) -> None:
    relations = {r[0] for r in conn.execute(RELATIONS).fetchall()}
    undecided = sorted(relations - set(DECIDED))
    assert undecided == [], (
        f"no grant decision for {undecided}: grant what futurisys_api / _listener / _analyst need in "
        "sql/grants.sql, and add it to DECIDED in tests/roles/test_grants.py ({} = owner only)"
    )
    assert sorted(set(DECIDED) - relations) == [], "DECIDED names relations the schema no longer has"


def test_the_database_holds_exactly_the_decided_grants(conn: psycopg.Connection) -> None:
    actual: dict[tuple[str, str], set[str]] = {}
    for relation, grantee, privilege in conn.execute(GRANTS).fetchall():
        actual.setdefault((relation, grantee), set()).add(privilege)
    expected = {
        (relation, f"futurisys_{role}"): expand(spec)
        for relation, specs in DECIDED.items()
        for role, spec in specs.items()
    }
    assert actual == expected


def test_every_object_belongs_to_futurisys_owner(conn: psycopg.Connection) -> None:
    others = conn.execute(
        "SELECT relname, relowner::regrole::text FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace AND relowner <> 'futurisys_owner'::regrole"
        " UNION ALL SELECT proname, proowner::regrole::text FROM pg_proc"
        " WHERE pronamespace = 'public'::regnamespace AND proowner <> 'futurisys_owner'::regrole"
    ).fetchall()
    assert others == []


def test_no_application_role_may_write_the_audit_trail_or_erase(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT r, has_table_privilege(r, 'audit_events', 'INSERT, UPDATE, DELETE, TRUNCATE'),"
        " has_function_privilege(r, 'erase_subject(text)', 'EXECUTE'),"
        " has_function_privilege(r, 'audit(text, text, jsonb)', 'EXECUTE')"
        " FROM unnest(ARRAY['futurisys_api', 'futurisys_listener', 'futurisys_analyst']) AS r"
    ).fetchall()
    # The API may append (through SECURITY DEFINER audit()) for admin actions it performs; nothing else.
    assert rows == [
        ("futurisys_api", False, False, True),
        ("futurisys_listener", False, False, False),
        ("futurisys_analyst", False, False, False),
    ]


def test_the_group_roles_cannot_log_in(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles"
        " WHERE rolname = ANY(%s) ORDER BY rolname",
        [[f"futurisys_{r}" for r in ROLES]],
    ).fetchall()
    names = sorted(f"futurisys_{r}" for r in ROLES)
    assert rows == [(name, False, False, False, False, False) for name in names]


#: SECURITY DEFINER functions (they act with the owner's rights) callable outside triggers, and who may
#: call them. PUBLIC may call none.
DEFINER_CALLERS = {
    "audit(text,text,jsonb)": {"futurisys_owner", "futurisys_api"},
    "erase_subject(text)": {"futurisys_owner"},
}


def test_functions_that_act_as_the_owner_are_callable_only_by_whom_it_was_decided(
    conn: psycopg.Connection,
) -> None:
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text, p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
        "  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'),"
        " ARRAY(SELECT r FROM unnest(ARRAY['futurisys_owner', 'futurisys_api', 'futurisys_listener',"
        "  'futurisys_analyst']) AS r WHERE has_function_privilege(r, p.oid, 'EXECUTE') ORDER BY r)"
        " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef"
        " AND p.prorettype <> 'trigger'::regtype"
    ).fetchall()
    callers = {name.replace(" ", ""): set(roles) for name, _, roles in rows}
    assert callers == DEFINER_CALLERS, "decide who may call each SECURITY DEFINER function in sql/grants.sql"
    assert [name for name, public, _ in rows if public] == []


def test_every_migration_run_restores_the_written_policy(db_url: str, conn: psycopg.Connection) -> None:
    from sql.migrate import migrate

    conn.execute("GRANT DELETE ON prediction_results TO futurisys_api")
    conn.execute("GRANT SELECT ON api_keys TO futurisys_analyst")
    conn.execute("REVOKE INSERT ON prediction_results FROM futurisys_listener")
    assert migrate(db_url) == []
    assert conn.execute(
        "SELECT has_table_privilege('futurisys_api', 'prediction_results', 'DELETE'),"
        " has_table_privilege('futurisys_analyst', 'api_keys', 'SELECT'),"
        " has_table_privilege('futurisys_listener', 'prediction_results', 'INSERT')"
    ).fetchone() == (False, False, True)
