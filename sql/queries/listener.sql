-- Everything the listener daemon (listener/) does to the database.
-- Claim → infer → record outcomes; leases swept back; heartbeats; LISTEN and its self-check.

-- name: listen_channels
-- :none.
-- Run once on the dedicated autocommit LISTEN connection (after every reconnect too).
-- prediction_requested: new pending rows; model_promoted: reload deployments;
-- listener_ping: the listener's own liveness check of this connection (payload = its token);
-- explanation_requested: explanations asked for (sql/queries/explanations.sql).
LISTEN prediction_requested; LISTEN model_promoted; LISTEN listener_ping; LISTEN explanation_requested

-- name: send_listener_ping
-- :none.
-- Sent from the work connection; the LISTEN connection must receive it back, or it is replaced.
SELECT pg_notify('listener_ping', %(token)s)

-- name: pending_floor
-- :one (from_id). Where the claims start looking: the first id of the oldest partition epoch holding a
-- pending or running row (a running row may come back to pending: a release, an expired lease), else
-- of the epoch of the newest request (ids only grow: new requests land there or later). Read once per
-- sweep (an index descent per partition). Every row that can become claimable later has an id at or
-- above it, bar a request whose id was drawn just before an epoch opened and committed after this read:
-- the next sweep's floor covers it.
SELECT request_epoch(coalesce(
           least((SELECT min(id) FROM prediction_requests WHERE status = 'pending'),
                 (SELECT min(id) FROM prediction_requests WHERE status = 'running')),
           (SELECT max(id) FROM prediction_requests),
           0))::bigint * request_epoch_width() AS from_id

-- name: claim_pending
-- :many (id, model_name, features). Claim up to batch_size pending rows, oldest first,
-- skipping rows another listener is claiming right now; the lease says until when they are ours.
-- Autocommit: the claim commits at once, so no row lock is held while the model runs.
-- from_id (pending_floor): the epochs below it are pruned from the row search as the plan starts (only
-- the partitions from there up are probed). Not on the outer UPDATE: with it PostgreSQL re-plans the
-- prepared claim on every call (its generic plan looks dearer), which cost more than it saved; without
-- it the generic plan is kept, and its UPDATE reaches only the claimed ids' partitions.
UPDATE prediction_requests AS r
SET status      = 'running',
    claimed_by  = %(listener_id)s,
    claimed_at  = clock_timestamp(),
    lease_until = clock_timestamp() + make_interval(secs => %(lease_seconds)s::float8),
    attempts    = r.attempts + 1
WHERE r.id IN (
    SELECT id FROM prediction_requests
    WHERE status = 'pending' AND id >= %(from_id)s::bigint
    ORDER BY id
    LIMIT %(batch_size)s::int
    FOR UPDATE SKIP LOCKED
)
RETURNING r.id, r.model_name, r.features

-- name: lock_pending
-- :many (id, model_name, features). The claim of a short transaction, taken when no backlog is waiting
-- (the last claim was short of its batch size): lock up to batch_size pending rows, oldest first,
-- skipping rows another listener holds, WITHOUT writing them; record_outcomes, in the same transaction,
-- then marks them claimed and completed in one write per row instead of two. A listener that dies before
-- its commit leaves them pending and unclaimed; one that stalls loses its session after its lease
-- (set_idle_transaction_limit), which releases them too. from_id as in claim_pending.
SELECT id, model_name, features
FROM prediction_requests
WHERE status = 'pending' AND id >= %(from_id)s::bigint
ORDER BY id
LIMIT %(batch_size)s::int
FOR UPDATE SKIP LOCKED

-- name: set_idle_transaction_limit
-- :one (set_config).
-- Once per work connection: a transaction left idle this long (a listener frozen between lock_pending
-- and its commit) ends with its session, so the rows it locked are claimable again after one lease.
SELECT set_config('idle_in_transaction_session_timeout', %(milliseconds)s::text, false)

-- name: record_outcomes
-- :one (completed, failed, released). One statement, one transaction, one round trip per batch:
-- mark completed the rows still open (pending or running), insert a result for exactly those, mark the
-- failures failed with their error, and hand back the released rows.
-- Rows already completed or failed (a late writer whose lease expired and whose row someone else
-- finished) are skipped: the UPDATE waits for a concurrent writer or sweep holding the row, then re-checks
-- its status (READ COMMITTED re-evaluates the WHERE on the new row version) and sees it closed, so no
-- result is inserted for it; ON CONFLICT keeps a second result impossible even so. Rows still pending were
-- locked by lock_pending in this transaction (or were requeued after this listener's lease expired): they
-- are claimed here too (claimed_by, claimed_at, one attempt), as a claim_pending would have.
-- The update comes first and the insert joins its RETURNING: an earlier version locked the open rows in a
-- separate FOR UPDATE pass, inserted, then updated the rows it had inserted for; the row lock that pass
-- took is the one the UPDATE takes anyway, and dropping it cost PostgreSQL about 15 % less CPU per request
-- in a lease-mode backlog (docs/scaling.md, "Measured").
-- The statement itself is the function record_prediction_outcomes (sql/schema/023): as a prepared
-- statement it was re-planned on most calls (its `= ANY (a parameter)` prunes partitions only in a custom
-- plan), and so was the foreign-key check of each result insert; the function keeps one generic plan per
-- session for both, each write bounded by its ids' lowest and highest so that only their partitions are
-- opened (an empty array: none).
SELECT completed, failed, released
FROM record_prediction_outcomes(
    %(result_ids)s::bigint[], %(predictions)s::smallint[], %(probabilities)s::float8[],
    %(model_versions)s::text[], %(model_sha256s)s::text[], %(failed_ids)s::bigint[], %(errors)s::text[],
    %(released_ids)s::bigint[], %(listener_id)s)

-- name: release_own_claims
-- :one (released). Every row this listener still holds goes back to pending, the claim not counted:
-- on clean shutdown, and after a reconnect (a claim may have committed without us seeing its rows).
WITH released AS (
    UPDATE prediction_requests
    SET status = 'pending', lease_until = NULL, attempts = greatest(attempts - 1, 0)
    WHERE status = 'running' AND claimed_by = %(listener_id)s
    RETURNING id
)
SELECT count(*) AS released FROM released

-- name: sweep_expired_leases
-- :one (requeued, failed). Running rows whose lease passed belong to a listener that died: pending
-- again, or failed with the reason once they used max_attempts claims. Rows another sweeper is
-- handling right now are skipped.
WITH expired AS (
    SELECT id FROM prediction_requests
    WHERE status = 'running' AND lease_until < clock_timestamp()
    ORDER BY id
    FOR UPDATE SKIP LOCKED
), swept AS (
    UPDATE prediction_requests AS r
    SET status       = CASE WHEN r.attempts >= %(max_attempts)s::int THEN 'failed' ELSE 'pending' END,
        error        = CASE WHEN r.attempts >= %(max_attempts)s::int
                            THEN format('gave up after %%s attempts: the lease of listener %%s expired '
                                        'while it held the request (it died or stalled)',
                                        r.attempts, r.claimed_by)
                            ELSE r.error END,
        completed_at = CASE WHEN r.attempts >= %(max_attempts)s::int THEN clock_timestamp() END,
        lease_until  = NULL
    FROM expired AS e
    WHERE r.id = e.id
    RETURNING r.status
)
SELECT count(*) FILTER (WHERE status = 'pending') AS requeued,
       count(*) FILTER (WHERE status = 'failed')  AS failed
FROM swept

-- name: register_listener
-- :none.
-- A listener process starts: its heartbeat row, fresh (a reused host:pid:n id starts over).
INSERT INTO listener_heartbeats (listener_id, hostname, pid, mode)
VALUES (%(listener_id)s, %(hostname)s, %(pid)s, %(mode)s)
ON CONFLICT (listener_id) DO UPDATE
SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, mode = EXCLUDED.mode,
    started_at = now(), last_seen_at = now(), processed = 0, failed = 0, stopped_at = NULL

-- name: beat_listener
-- :none.
-- Periodic heartbeat with this process's running totals; recreates the row if it went missing.
INSERT INTO listener_heartbeats (listener_id, hostname, pid, mode, processed, failed)
VALUES (%(listener_id)s, %(hostname)s, %(pid)s, %(mode)s, %(processed)s, %(failed)s)
ON CONFLICT (listener_id) DO UPDATE
SET last_seen_at = now(), processed = EXCLUDED.processed, failed = EXCLUDED.failed, stopped_at = NULL

-- name: stop_listener
-- :none.
-- Clean shutdown: final totals and stopped_at, so the dashboard tells "stopped" from "crashed".
UPDATE listener_heartbeats
SET last_seen_at = now(), processed = %(processed)s, failed = %(failed)s, stopped_at = now()
WHERE listener_id = %(listener_id)s
