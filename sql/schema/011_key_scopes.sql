-- Keys with scopes, and requests that remember which key submitted them (issue 11, item 1).
-- submit: write, and read back what this key submitted; read: read every request (analysts, the
-- dashboard); admin: keys and the audit trail through the API. A key may hold several.

-- Keys made before scopes could write, and anyone could read: they keep both, so an upgrade locks
-- out no running client. New keys get what they are created with (submit when nothing is said).
ALTER TABLE api_keys
    ADD COLUMN scopes text[] NOT NULL DEFAULT '{submit,read}'
    CONSTRAINT api_keys_scopes_known
        CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['submit', 'read', 'admin']::text[]);
ALTER TABLE api_keys ALTER COLUMN scopes SET DEFAULT '{submit}';

COMMENT ON COLUMN api_keys.scopes IS
    'What the key may do: submit (write, read back its own requests), read (read every request), admin (keys, audit trail).';
COMMENT ON TABLE api_keys IS
    'Keys callers send as X-API-Key, each with its scopes. Once any key exists, reading or writing requests needs one. No plain-text key is ever stored.';

-- Who submitted each request: a submit key reads back only the rows that carry its id.
ALTER TABLE prediction_requests ADD COLUMN api_key_id bigint REFERENCES api_keys (id);
COMMENT ON COLUMN prediction_requests.api_key_id IS
    'The API key that submitted the request (null: submitted while no key was required, or by SQL).';

-- History of one submit key, newest first (keyset on id), as the unfiltered history uses the primary key.
CREATE INDEX prediction_requests_api_key_id_idx ON prediction_requests (api_key_id, id DESC)
    WHERE api_key_id IS NOT NULL;
COMMENT ON INDEX prediction_requests_api_key_id_idx IS 'History of the requests one API key submitted.';

-- Outcomes posted with a submit-only key match only that key's requests: the same matching as
-- before, restricted to the requests of `submitted_by` (NULL: every request).
CREATE FUNCTION outcome_matches(
    asked_request_ids  uuid[],
    asked_subject_refs text[],
    asked_labels       smallint[],
    asked_observed_at  timestamptz[],
    horizon            interval,
    submitted_by       bigint
) RETURNS TABLE (
    item        bigint,
    request_id  bigint,
    label       smallint,
    observed_at timestamptz,
    matched_by  text,
    wins        boolean
)
LANGUAGE sql STABLE AS $$
    SELECT m.*
    FROM outcome_matches(asked_request_ids, asked_subject_refs, asked_labels, asked_observed_at, horizon) AS m
    WHERE submitted_by IS NULL
       OR EXISTS (SELECT 1 FROM prediction_requests r WHERE r.id = m.request_id AND r.api_key_id = submitted_by)
$$;

COMMENT ON FUNCTION outcome_matches(uuid[], text[], smallint[], timestamptz[], interval, bigint) IS
    'outcome_matches() restricted to the requests submitted with API key submitted_by (NULL: all): what a submit-only key may label.';
