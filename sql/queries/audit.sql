-- Queries on audit_events (sql/schema/010_audit_events.sql): stating who acts, and reading the trail.

-- name: state_audit_actor
-- :none.
-- Who acts (actor) and why (details, a JSON object: reason, evidence, verdict, "action" to rename the
-- event) for the rest of the transaction: the audit events that the triggers or audit() write in it carry both.
SELECT set_audit_context(%(actor)s, %(details)s::jsonb)

-- name: audit_trail
-- :many (id, at, actor, action, subject, details).
-- GET /audit: events newest first, optionally of some actions only (NULL: all), at or after
-- `since`, before the id `before_id` (the previous page's last), at most `limit`.
SELECT id, at, actor, action, subject, details
FROM audit_events
WHERE (%(actions)s::text[] IS NULL OR action = ANY(%(actions)s::text[]))
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s::timestamptz)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s::bigint)
ORDER BY id DESC
LIMIT %(limit)s
