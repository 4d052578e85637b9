-- Live definition of a view.
SELECT pg_catalog.json_build_object('definition', pg_catalog.pg_get_viewdef(c.oid), 'acl', c.relacl::text)
FROM pg_catalog.pg_class c
WHERE c.oid = pg_catalog.to_regclass(%(identity)s::text) AND c.relkind = 'v'
