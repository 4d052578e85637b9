-- Whether an existing role was created by script-tracking (it carries plan.ROLE_MARKER).
SELECT pg_catalog.shobj_description(r.oid, 'pg_authid') IS NOT DISTINCT FROM %(marker)s::text
FROM pg_catalog.pg_roles r
WHERE r.rolname = %(identity)s::text
