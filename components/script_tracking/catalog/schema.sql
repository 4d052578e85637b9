-- Live state of a schema: what PUBLIC may do and its comment (its owner and the grants to roles are objects of their own).
SELECT pg_catalog.json_build_object('public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a WHERE a.grantee = 0 ORDER BY 1),
    'comment', pg_catalog.obj_description(n.oid, 'pg_namespace'))
FROM pg_catalog.pg_namespace n
WHERE n.nspname = %(identity)s::text
