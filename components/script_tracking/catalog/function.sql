-- Live definition of a function: what CREATE OR REPLACE cannot change (its result and its
-- arguments with their names and defaults) apart from the whole definition (body, options,
-- SET clauses, as PostgreSQL prints it), what PUBLIC may do with it and its comment. (Grants
-- to our roles and its owner are objects of their own.) The state keeps the definition as
-- a digest (catalog.recorded): drift only needs to compare it.
SELECT pg_catalog.json_build_object(
    'result', pg_catalog.pg_get_function_result(p.oid),
    'arguments', pg_catalog.pg_get_function_arguments(p.oid),
    'definition', pg_catalog.pg_get_functiondef(p.oid),
    'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a WHERE a.grantee = 0 ORDER BY 1),
    'comment', pg_catalog.obj_description(p.oid, 'pg_proc'))
FROM pg_catalog.pg_proc p
WHERE p.oid = pg_catalog.to_regprocedure(%(identity)s::text)
