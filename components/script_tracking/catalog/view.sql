-- Live definition of a view: its columns (CREATE OR REPLACE VIEW can only add some at the
-- end), its query as PostgreSQL prints it (a digest in the state, like a function's), what
-- PUBLIC may do and its comment.
SELECT pg_catalog.json_build_object(
    'columns', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
                    a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
                FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
    'definition', pg_catalog.pg_get_viewdef(c.oid),
    'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))) a WHERE a.grantee = 0 ORDER BY 1),
    'comment', pg_catalog.obj_description(c.oid, 'pg_class'))
FROM pg_catalog.pg_class c
WHERE c.oid = pg_catalog.to_regclass(%(identity)s::text) AND c.relkind = 'v'
