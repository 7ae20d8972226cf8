-- Ownership and login roles (the group roles: sql/roles.sql; their grants: sql/grants.sql).

-- name: hand_objects_to_owner
-- :none.
-- Run by python -m sql after the schema files: every table, view, sequence, function and type of
-- the public schema that futurisys_owner does not own yet becomes its own (objects that later schema
-- files add, created by whoever migrates), so only futurisys_owner (and superusers) can alter or drop
-- them. Identity sequences and indexes follow their table. A migrating user that is neither superuser
-- nor a member of futurisys_owner makes itself one when it may (it created the role), else is told how.
DO $$
DECLARE
    obj record;
BEGIN
    IF NOT pg_has_role(current_user, 'futurisys_owner', 'USAGE')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        BEGIN
            EXECUTE format('GRANT futurisys_owner TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'python -m sql runs as %, which is not a member of futurisys_owner', current_user
                USING HINT = format('as a superuser: GRANT futurisys_owner TO %I;', current_user);
        END;
    END IF;
    FOR obj IN
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
               c.oid::regclass::text AS name
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner <> 'futurisys_owner'::regrole
          -- A sequence owned by a column changes owner with its table. (A partition depends on its
          -- parent the same way but does not follow it: it is handed over itself.)
          AND (c.relkind <> 'S' OR NOT EXISTS (
              SELECT 1 FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')
                AND d.refclassid = 'pg_class'::regclass))
        UNION ALL
        SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
               p.oid::regprocedure::text
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> 'futurisys_owner'::regrole
        UNION ALL
        SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text
        FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')
          AND t.typowner <> 'futurisys_owner'::regrole
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO futurisys_owner', obj.kind, obj.name);
    END LOOP;
END;
$$

-- name: role_exists
-- :one (exists). Whether a role of that name exists on this server.
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s)
