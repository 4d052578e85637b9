-- Live definition of a function (body, options, SET clauses: as a digest, which is all drift
-- needs, since the text is most of a stack's state) and what PUBLIC may do with it (grants to
-- our roles are resources of their own, so they are not part of this).
SELECT pg_catalog.json_build_object(
    'definition_md5', pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid)), 'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a WHERE a.grantee = 0 ORDER BY 1),
    'comment', pg_catalog.obj_description(p.oid, 'pg_proc'))
FROM pg_catalog.pg_proc p
WHERE p.oid = pg_catalog.to_regprocedure(%(identity)s::text)
