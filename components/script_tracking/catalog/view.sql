-- Live definition of a view (as a digest, like a function's).
SELECT pg_catalog.json_build_object('definition_md5', pg_catalog.md5(pg_catalog.pg_get_viewdef(c.oid)), 'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))) a WHERE a.grantee = 0 ORDER BY 1))
FROM pg_catalog.pg_class c
WHERE c.oid = pg_catalog.to_regclass(%(identity)s::text) AND c.relkind = 'v'
