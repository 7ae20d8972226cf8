-- The NOLOGIN group roles of Futurisys, applied by python -m sql before the schema files, on every run.
-- Roles belong to the server, not to one database: another database on this server may have created
-- them already, or be creating them at this very moment (hence the exception handler). What each role
-- may do is granted per database by sql/grants.sql.
DO $$
DECLARE
    wanted text[];
BEGIN
    FOREACH wanted SLICE 1 IN ARRAY ARRAY[
        ['futurisys_owner', 'Futurisys: owns the schema (migrations, model registration, erasure, retention).'],
        ['futurisys_api', 'Futurisys: the API process. Inserts requests and outcomes, reads what the API serves.'],
        ['futurisys_listener', 'Futurisys: listener processes. Claim and finish requests, write results and heartbeats.'],
        ['futurisys_analyst', 'Futurisys: read-only analysts, through views without subject_ref or key.']
    ]
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = wanted[1]) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', wanted[1]);
                EXECUTE format('COMMENT ON ROLE %I IS %L', wanted[1], wanted[2] || ' NOLOGIN group.');
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- created at this moment by a migration of another database
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'role % does not exist and % may not create roles', wanted[1], current_user
                        USING HINT = 'a DBA creates the four NOLOGIN group roles once per server: see docs/database-roles.md';
            END;
        END IF;
    END LOOP;
END;
$$;
