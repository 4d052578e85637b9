-- Live definition of an index, as PostgreSQL prints it.
SELECT pg_catalog.json_build_object('definition', pg_catalog.pg_get_indexdef(c.oid), 'comment', pg_catalog.obj_description(c.oid, 'pg_class'))
FROM pg_catalog.pg_class c
WHERE c.oid = pg_catalog.to_regclass(%(identity)s::text) AND c.relkind IN ('i', 'I')
