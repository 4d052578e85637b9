-- Whether a role holds a privilege on an object (directly, not through PUBLIC).
-- "on" is the object kind of the GRANT: schema, function, table or sequence.
SELECT pg_catalog.json_build_object('granted', true)
WHERE EXISTS (
    SELECT 1
    FROM (SELECT n.nspacl AS acl FROM pg_catalog.pg_namespace n
          WHERE %(on)s::text = 'schema' AND n.nspname = %(target)s::text
          UNION ALL
          SELECT p.proacl FROM pg_catalog.pg_proc p
          WHERE %(on)s::text = 'function' AND p.oid = pg_catalog.to_regprocedure(%(target)s::text)
          UNION ALL
          SELECT c.relacl FROM pg_catalog.pg_class c
          WHERE %(on)s::text IN ('table', 'sequence') AND c.oid = pg_catalog.to_regclass(%(target)s::text)) o,
         pg_catalog.aclexplode(o.acl) a
    WHERE a.grantee = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = %(role)s::text)
      AND a.privilege_type = pg_catalog.upper(%(privilege)s::text))
