-- Live state of a schema: owner and what PUBLIC may do (grants to roles are resources of their own).
SELECT pg_catalog.json_build_object('owner', n.nspowner::pg_catalog.regrole::text, 'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a WHERE a.grantee = 0 ORDER BY 1))
FROM pg_catalog.pg_namespace n
WHERE n.nspname = %(identity)s::text
