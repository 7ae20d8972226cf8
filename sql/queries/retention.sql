-- Partition maintenance and retention (sql/retention.py, python -m sql retention).
-- Statements with {placeholders} are DDL templates: the code fills in quoted identifiers.

-- name: take_retention_lock
-- :none.
-- One maintenance run at a time (session lock: the run spans many transactions).
SELECT pg_advisory_lock(hashtext('futurisys.retention'))

-- name: release_retention_lock
-- :one (released).
SELECT pg_advisory_unlock(hashtext('futurisys.retention')) AS released

-- name: retention_lock_timeout
-- :none.
-- DDL waits at most this long for a lock, then gives up and is retried: traffic queued behind it waits
-- no longer than that, and in a lock cycle with traffic this run is the one that yields (well before
-- deadlock_timeout lets the deadlock detector pick a victim, which could be a client's insert).
SET lock_timeout = '200ms'

-- name: partition_family
-- :many (table_name, partition_column). prediction_requests first, then every table referencing it.
SELECT table_name::text, partition_column::text FROM request_partition_family()

-- name: unpartitioned_referencing_tables
-- :many (table_name). Tables with a foreign key to prediction_requests that are not partitioned with it:
-- their rows would make detaching a partition fail, so retention refuses to start.
SELECT DISTINCT c.conrelid::regclass::text AS table_name
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
WHERE c.contype = 'f' AND c.confrelid = 'prediction_requests'::regclass AND c.conparentid = 0
  AND t.relkind <> 'p' AND NOT t.relispartition
  AND t.relname !~ '_p[0-9]+$'

-- name: current_epoch
-- :one (epoch, next_id). The epoch new ids are drawn from now (the one of the next id handed out).
SELECT request_epoch(n.next_id) AS epoch, n.next_id
FROM (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END AS next_id
      FROM prediction_requests_id_seq) AS n

-- name: ensure_partition
-- :one (created). One table's partition of one epoch (idempotent).
SELECT ensure_request_partition(%(epoch)s::int, %(table_name)s::regclass) AS created

-- name: open_epoch
-- :one (next_id).
-- Move the id sequence to the first id of an epoch: new requests go to its partitions from now on.
-- Never backwards (a second run that read an older epoch changes nothing).
SELECT setval(pg_get_serial_sequence('prediction_requests', 'id'), %(epoch)s::bigint * request_epoch_width(), false)
       AS next_id
WHERE (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM prediction_requests_id_seq)
      < %(epoch)s::bigint * request_epoch_width()

-- name: request_partitions
-- :many (epoch, partition, attached, detach_pending). Every partition of prediction_requests, attached
-- or left detached by an interrupted run.
SELECT substring(c.relname FROM '_p([0-9]+)$')::int AS epoch, c.relname::text AS partition,
       i.inhrelid IS NOT NULL AS attached, coalesce(i.inhdetachpending, false) AS detach_pending
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'prediction_requests'::regclass
WHERE c.relname ~ '^prediction_requests_p[0-9]+$' AND c.relkind = 'r'
ORDER BY 1

-- name: partition_span
-- :one (oldest, newest). First and last submission time in one partition (created_at index: two probes).
SELECT (SELECT min(created_at) FROM {partition}) AS oldest, (SELECT max(created_at) FROM {partition}) AS newest

-- name: partition_state
-- :one (attached, detach_pending). Whether a table is (still) a partition of its parent.
SELECT i.inhrelid IS NOT NULL AS attached, coalesce(i.inhdetachpending, false) AS detach_pending
FROM (SELECT to_regclass(%(partition)s) AS oid) AS p
LEFT JOIN pg_inherits i ON i.inhrelid = p.oid
WHERE p.oid IS NOT NULL

-- name: detach_partition
-- :none.
-- Only SHARE UPDATE EXCLUSIVE on the parent: inserts, claims and reads go on meanwhile.
ALTER TABLE {parent} DETACH PARTITION {partition} CONCURRENTLY

-- name: finalize_detach
-- :none.
-- A DETACH ... CONCURRENTLY that was interrupted (the run died) is finished.
ALTER TABLE {parent} DETACH PARTITION {partition} FINALIZE

-- name: archive_partition
-- :none.
-- The detached partition's rows, as CSV with a header, into the archive file.
COPY {partition} TO STDOUT WITH (FORMAT csv, HEADER true)

-- name: count_partition
-- :one (n). Rows of a detached partition (no archive asked for).
SELECT count(*) AS n FROM {partition}

-- name: drop_partition
-- :none.
-- A detached partition of prediction_requests: nobody reads it any more, so its lock blocks nobody.
DROP TABLE {partition}

-- name: drop_child_partition
-- :none.
-- A detached partition of a child table still carries its foreign key to prediction_requests, and
-- dropping it removes that key's triggers: ACCESS EXCLUSIVE on prediction_requests and every one of its
-- partitions, the live ones included. Taken parent first in one statement, the lock waits only for the
-- transactions running when it asked; DROP TABLE alone locks the partitions one at a time and, holding
-- some, waits on a listener transaction that then waits on it (a cycle only lock_timeout broke: under
-- load no attempt in a hundred got through). Traffic waits at most lock_timeout, then the run retries.
LOCK TABLE prediction_requests IN ACCESS EXCLUSIVE MODE;
DROP TABLE {partition}

-- name: state_retention_actor
-- :none.
-- Who runs retention, for the audit event written next in the same transaction.
SELECT set_audit_context(%(actor)s, '{}'::jsonb)

-- name: audit_retention
-- :one (id). The run's audit event: what was removed, with counts (no personal data).
SELECT audit('retention.run', NULL, %(details)s::jsonb) AS id
