-- Erasure of one subject (python -m sql erase): sql/schema/014_analyst_views_and_erasure.sql defines erase_subject().

-- name: state_erasure_actor
-- :none.
-- Who erases, for the audit event written in the same transaction (reasons are not recorded: a reason
-- could name the subject).
SELECT set_audit_context(%(actor)s, '{}')

-- name: erase_subject
-- :many (table_name, rows_erased). Delete the subject's requests and every row that references them;
-- appends one data.erased audit event with the counts and without the reference.
SELECT table_name, rows_erased FROM erase_subject(%(subject_ref)s)

-- name: erasure_event_id
-- :one (id). The audit event the erase_subject() call of this session just appended.
SELECT currval(pg_get_serial_sequence('audit_events', 'id')) AS id
