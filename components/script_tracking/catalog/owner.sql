-- Whether a role owns an object. "on" is the object kind of the ALTER ... OWNER TO:
-- schema, function, table, sequence or view. (The CASEs keep to_regprocedure from
-- reading a schema's name: before PostgreSQL 16 it raises on what is no signature.)
SELECT pg_catalog.json_build_object('owned', true)
WHERE (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = %(role)s::text) IN (
    SELECT n.nspowner FROM pg_catalog.pg_namespace n
    WHERE %(on)s::text = 'schema' AND n.nspname = %(target)s::text
    UNION ALL
    SELECT p.proowner FROM pg_catalog.pg_proc p
    WHERE p.oid = CASE WHEN %(on)s::text = 'function' THEN pg_catalog.to_regprocedure(%(target)s::text) END
    UNION ALL
    SELECT c.relowner FROM pg_catalog.pg_class c
    WHERE c.oid = CASE WHEN %(on)s::text IN ('table', 'sequence', 'view')
                       THEN pg_catalog.to_regclass(%(target)s::text) END)
