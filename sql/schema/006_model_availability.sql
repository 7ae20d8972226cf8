-- Which deployed models each running listener can answer with (issue 10, defect 4): a listener writes
-- its rows when a model loads or is refused (an artifact whose bytes do not match its registered
-- sha256, a missing file), so the API can say in /health and GET /models/ that a model is unavailable.

CREATE TABLE model_availability (
    listener_id   text        NOT NULL REFERENCES listener_heartbeats (listener_id) ON DELETE CASCADE,
    model_name    text        NOT NULL,
    model_version text        NOT NULL,
    available     boolean     NOT NULL,
    error         text,
    next_retry_at timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (listener_id, model_name),
    CHECK (available = (error IS NULL))
);

COMMENT ON TABLE model_availability IS
    'One row per listener and deployed model it tried to load: loaded, or refused with why. Rows of a listener that stopped or stopped beating are stale (join listener_heartbeats).';
COMMENT ON COLUMN model_availability.listener_id IS 'listener_heartbeats.listener_id of the listener that reports.';
COMMENT ON COLUMN model_availability.model_name IS 'Deployed model name (model_deployments.model_name).';
COMMENT ON COLUMN model_availability.model_version IS 'Version the listener loaded or tried to load.';
COMMENT ON COLUMN model_availability.available IS 'True when the listener has the model loaded and answers with it.';
COMMENT ON COLUMN model_availability.error IS 'Why the model cannot be loaded, as clients may read it (no server file paths); null when available.';
COMMENT ON COLUMN model_availability.next_retry_at IS 'When the listener tries to load a refused model again (retries back off up to 30 s); null when available.';
COMMENT ON COLUMN model_availability.updated_at IS 'When the listener last changed this row.';
