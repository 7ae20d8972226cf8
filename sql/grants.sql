-- What each Futurisys role may do, table by table: the whole policy, re-applied by python -m sql after
-- the schema files on every run (it is not a numbered file: edit it, never add a second one).
--
-- The NOLOGIN group roles (sql/roles.sql); a DBA creates LOGIN roles IN ROLE one of them
-- (docs/database-roles.md):
--   futurisys_owner     owns every object: migrations (python -m sql), model registration, keys, erasure.
--   futurisys_api       inserts requests and outcomes, asks for explanations, reads what the API serves.
--   futurisys_listener  claims and finishes requests, writes results, explanations and heartbeats.
--   futurisys_analyst   reads through views that omit who a request is about and who sent it.
-- Nobody but the owner can change a registered sha256, delete a result or drop anything: no
-- application role owns an object (python -m sql hands each one to futurisys_owner), and none holds
-- UPDATE on model_versions or DELETE on results.
--
-- The file starts from nothing (every privilege of the application roles revoked) and grants what is
-- written below, all in the migration's one transaction: running processes see the old policy or the
-- new one, never a gap. A table missing here is out of reach of every application role, and
-- tests/roles/test_grants.py fails until its decision is written down there too.

-- Nobody creates objects in the schema except its owner (PostgreSQL before 15 let PUBLIC do it).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO futurisys_owner, futurisys_api, futurisys_listener, futurisys_analyst;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, futurisys_api, futurisys_listener, futurisys_analyst;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, futurisys_api, futurisys_listener, futurisys_analyst;

-- Functions are executable by PUBLIC by default; the ones that write the audit trail are not for
-- everyone (audit() is SECURITY DEFINER: whoever may call it may append to the trail).
REVOKE EXECUTE ON FUNCTION audit(text, text, jsonb) FROM PUBLIC, futurisys_listener, futurisys_analyst;
GRANT EXECUTE ON FUNCTION audit(text, text, jsonb) TO futurisys_owner, futurisys_api;
-- Erasure (python -m sql erase) is the owner's alone.
REVOKE EXECUTE ON FUNCTION erase_subject(text) FROM PUBLIC, futurisys_api, futurisys_listener, futurisys_analyst;
GRANT EXECUTE ON FUNCTION erase_subject(text) TO futurisys_owner;

-- The migration record: /health compares it with the files it knows.
GRANT SELECT ON schema_migrations TO futurisys_api, futurisys_listener;

-- Requests: the API inserts them; listeners move them through their states (never their features).
GRANT SELECT, INSERT ON prediction_requests TO futurisys_api;
GRANT SELECT, UPDATE (status, claimed_at, claimed_by, lease_until, attempts, completed_at, error)
    ON prediction_requests TO futurisys_listener;

-- Results: written once by a listener, never updated or deleted by anyone but the owner.
GRANT SELECT ON prediction_results TO futurisys_api;
GRANT SELECT, INSERT ON prediction_results TO futurisys_listener;

-- The registry: registered by the owner (python -m model_store), read by everyone.
GRANT SELECT ON model_versions, model_deployments TO futurisys_api, futurisys_listener, futurisys_analyst;

-- Listener heartbeats and model availability: each listener writes its own rows; the API reports them.
GRANT SELECT, INSERT, UPDATE (last_seen_at, processed, failed, stopped_at, hostname, pid, mode, started_at)
    ON listener_heartbeats TO futurisys_listener;
GRANT SELECT ON listener_heartbeats TO futurisys_api, futurisys_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON model_availability TO futurisys_listener;
GRANT SELECT ON model_availability TO futurisys_api, futurisys_analyst;

-- Keys: created and revoked by the owner (python -m service keys); the API reads the hashes.
GRANT SELECT ON api_keys TO futurisys_api;

-- Outcomes: posted through the API, which supersedes a corrected one (history is kept).
GRANT SELECT, INSERT, UPDATE (superseded_at) ON prediction_outcomes TO futurisys_api;

-- Explanations: asked for (or asked again after a failure) by the API, computed by a listener.
GRANT SELECT, INSERT, UPDATE (status, requested_at, attempts, error, claimed_at, completed_at, lease_until)
    ON explanation_requests TO futurisys_api;
GRANT SELECT, UPDATE (status, claimed_at, claimed_by, lease_until, attempts, completed_at, error)
    ON explanation_requests TO futurisys_listener;
GRANT SELECT ON prediction_explanations TO futurisys_api;
GRANT SELECT, INSERT ON prediction_explanations TO futurisys_listener;

-- The audit trail: appended through audit() and the triggers only (SECURITY DEFINER); read by the
-- API for GET /audit. No application role may INSERT, UPDATE or DELETE it directly.
GRANT SELECT ON audit_events TO futurisys_api;

-- Analysts: the views of sql/schema/014 (features, answers, outcomes, explanations; no subject_ref,
-- idempotency key or submitting key). A view reads with its owner's rights: no grant underneath.
GRANT SELECT ON analyst_predictions, analyst_explanations TO futurisys_analyst, futurisys_api;

-- Shadows (sql/schema/012): which versions run in the shadow is set by the owner (python -m model_store
-- shadow); listeners read it and write the challengers' answers once; the API compares them.
GRANT SELECT ON model_shadows TO futurisys_api, futurisys_listener, futurisys_analyst;
GRANT SELECT, INSERT ON shadow_predictions TO futurisys_listener;
GRANT SELECT ON shadow_predictions TO futurisys_api;
