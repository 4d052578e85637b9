-- psql path only (the Pulumi provider does this from its ownerRole setting):
-- every object of the system is owned by script_tracking_owner, a NOLOGIN role
-- that is not a superuser, so the SECURITY DEFINER functions never run as one.
-- The system's objects are the ones this install's transaction created (their
-- catalog rows carry its transaction id): a util schema that existed before, and
-- the user's objects in it, keep their owner.
-- Runs before 40_ddl_triggers.sql, so the handover is not recorded as DDL.
DO $$
DECLARE
    v_object record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'script_tracking_owner') THEN
        CREATE ROLE script_tracking_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT;
    END IF;
    FOR v_object IN
        SELECT 'SCHEMA' AS kind, pg_catalog.quote_ident(n.nspname) AS target
          FROM pg_catalog.pg_namespace n WHERE n.xmin = pg_catalog.pg_current_xact_id()::xid
        UNION ALL
        SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, c.oid::pg_catalog.regclass::text
          FROM pg_catalog.pg_class c
         WHERE c.xmin = pg_catalog.pg_current_xact_id()::xid AND c.relkind IN ('r', 'p', 'S', 'v')
           -- identity and OWNED BY sequences follow their table
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                            WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                              AND d.deptype IN ('a', 'i'))
        UNION ALL
        SELECT 'FUNCTION', p.oid::pg_catalog.regprocedure::text
          FROM pg_catalog.pg_proc p WHERE p.xmin = pg_catalog.pg_current_xact_id()::xid
    LOOP
        EXECUTE pg_catalog.format('ALTER %s %s OWNER TO script_tracking_owner', v_object.kind, v_object.target);
    END LOOP;
END
$$;
