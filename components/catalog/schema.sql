-- Live state of a schema: owner and privileges.
SELECT pg_catalog.json_build_object('owner', n.nspowner::pg_catalog.regrole::text, 'acl', n.nspacl::text)
FROM pg_catalog.pg_namespace n
WHERE n.nspname = %(identity)s::text
