-- Live definition of a function (body, options, SET clauses) and its privileges.
SELECT pg_catalog.json_build_object(
    'definition', pg_catalog.pg_get_functiondef(p.oid), 'acl', p.proacl::text,
    'comment', pg_catalog.obj_description(p.oid, 'pg_proc'))
FROM pg_catalog.pg_proc p
WHERE p.oid = pg_catalog.to_regprocedure(%(identity)s::text)
