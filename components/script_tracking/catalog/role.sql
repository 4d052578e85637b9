-- Live attributes of a role.
SELECT pg_catalog.json_build_object(
    'login', r.rolcanlogin, 'superuser', r.rolsuper, 'inherit', r.rolinherit,
    'createrole', r.rolcreaterole, 'createdb', r.rolcreatedb)
FROM pg_catalog.pg_roles r
WHERE r.rolname = %(identity)s::text
