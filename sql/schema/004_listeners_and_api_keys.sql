-- Heartbeats: one row per running listener, so the API and dashboard can show who is alive.
CREATE TABLE listener_heartbeats (
    listener_id  text        PRIMARY KEY,
    hostname     text        NOT NULL,
    pid          integer     NOT NULL,
    mode         text        NOT NULL CHECK (mode IN ('notify', 'poll')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    processed    bigint      NOT NULL DEFAULT 0,
    failed       bigint      NOT NULL DEFAULT 0,
    stopped_at   timestamptz
);

COMMENT ON TABLE listener_heartbeats IS 'One row per listener process started; last_seen_at older than a few sweep intervals means it is gone.';
COMMENT ON COLUMN listener_heartbeats.listener_id IS 'host:pid:worker, also written to prediction_requests.claimed_by.';
COMMENT ON COLUMN listener_heartbeats.hostname IS 'Host the listener runs on.';
COMMENT ON COLUMN listener_heartbeats.pid IS 'Operating-system process id.';
COMMENT ON COLUMN listener_heartbeats.mode IS 'notify: woken by LISTEN/NOTIFY; poll: --poll-only.';
COMMENT ON COLUMN listener_heartbeats.started_at IS 'When the listener started.';
COMMENT ON COLUMN listener_heartbeats.last_seen_at IS 'Last heartbeat.';
COMMENT ON COLUMN listener_heartbeats.processed IS 'Requests completed by this listener.';
COMMENT ON COLUMN listener_heartbeats.failed IS 'Requests this listener marked failed.';
COMMENT ON COLUMN listener_heartbeats.stopped_at IS 'Set on a clean shutdown; null while running or after a crash.';

-- API keys: only a SHA-256 of each key is stored; the plain text is shown once at creation.
CREATE TABLE api_keys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    key_sha256 text        NOT NULL UNIQUE CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

COMMENT ON TABLE api_keys IS 'Keys allowed to call write endpoints (X-API-Key). No plain-text key is ever stored.';
COMMENT ON COLUMN api_keys.id IS 'Internal key.';
COMMENT ON COLUMN api_keys.name IS 'Who or what holds the key.';
COMMENT ON COLUMN api_keys.key_sha256 IS 'SHA-256 hex digest of the key.';
COMMENT ON COLUMN api_keys.created_at IS 'When the key was created.';
COMMENT ON COLUMN api_keys.revoked_at IS 'When the key was revoked; a revoked key is refused.';
