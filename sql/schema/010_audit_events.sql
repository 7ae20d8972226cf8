-- The audit trail of admin actions: append-only, written by the database itself.
-- Triggers record what changes the tables the actions change (keys, deployments), so no path can skip
-- the audit; the code that acts adds who and why with set_audit_context() in the same transaction.
CREATE TABLE audit_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor   text        NOT NULL,
    action  text        NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    subject text,
    details jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_action_at ON audit_events (action, at);

COMMENT ON TABLE audit_events IS
    'Append-only trail of admin actions (keys, promotions, rollbacks, shadows, erasure, retention). UPDATE, DELETE and TRUNCATE are refused.';
COMMENT ON COLUMN audit_events.id IS 'Order of the events.';
COMMENT ON COLUMN audit_events.at IS 'When the action happened (clock time, not transaction start).';
COMMENT ON COLUMN audit_events.actor IS 'Who acted: the API key name or CLI user the code stated, else the database session user.';
COMMENT ON COLUMN audit_events.action IS 'What happened, as area.verb: key.created, key.revoked, model.promoted, model.rolled_back, …';
COMMENT ON COLUMN audit_events.subject IS 'What it happened to: a model name, a key name, a subject_ref.';
COMMENT ON COLUMN audit_events.details IS 'The facts of the action (versions before and after, reason, evidence), as JSON.';

-- Who acts and why, for the rest of the transaction: read by audit() and the triggers below.
CREATE FUNCTION set_audit_context(actor text, details jsonb DEFAULT '{}') RETURNS void
LANGUAGE sql AS $$
    SELECT set_config('futurisys.audit_actor', coalesce(actor, ''), true),
           set_config('futurisys.audit_details', coalesce(details, '{}')::text, true);
$$;

COMMENT ON FUNCTION set_audit_context(text, jsonb) IS
    'State who acts (and why, as JSON) for the current transaction; audit events written in it carry both.';

-- Record one admin action. SECURITY DEFINER: a role allowed to act need not be allowed to write the trail.
CREATE FUNCTION audit(action text, subject text, details jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    stated jsonb := coalesce(nullif(current_setting('futurisys.audit_details', true), ''), '{}')::jsonb;
    event_id bigint;
BEGIN
    INSERT INTO audit_events (actor, action, subject, details)
    VALUES (coalesce(nullif(current_setting('futurisys.audit_actor', true), ''), session_user::text),
            action, subject, (stated - 'action') || coalesce(details, '{}'))
    RETURNING id INTO event_id;
    RETURN event_id;
END;
$$;

COMMENT ON FUNCTION audit(text, text, jsonb) IS
    'Append one audit event (actor and extra details from set_audit_context()); returns its id.';

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- Keys: created and revoked.
CREATE FUNCTION audit_api_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit('key.created', NEW.name, '{}');
    ELSIF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        PERFORM audit('key.revoked', NEW.name, '{}');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_audited AFTER INSERT OR UPDATE OF revoked_at ON api_keys
    FOR EACH ROW EXECUTE FUNCTION audit_api_keys();

-- Deployments: a first deployment, then each version change a promotion (or what the acting code
-- states, e.g. model.rolled_back).
CREATE FUNCTION audit_model_deployments() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    stated_action text := nullif(current_setting('futurisys.audit_details', true), '')::jsonb ->> 'action';
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.version IS NOT DISTINCT FROM NEW.version THEN
        RETURN NULL;
    END IF;
    PERFORM audit(
        coalesce(stated_action, CASE TG_OP WHEN 'INSERT' THEN 'model.deployed' ELSE 'model.promoted' END),
        NEW.model_name,
        jsonb_build_object(
            'from_version', CASE WHEN TG_OP = 'UPDATE' THEN OLD.version END,
            'to_version', NEW.version
        )
    );
    RETURN NULL;
END;
$$;

CREATE TRIGGER model_deployments_audited AFTER INSERT OR UPDATE OF version ON model_deployments
    FOR EACH ROW EXECUTE FUNCTION audit_model_deployments();
