-- Live definition of a composite or enum type.
SELECT pg_catalog.json_build_object(
    'kind', t.typtype,
    'labels', (SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder)
               FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
    'attributes', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
                       a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
                   FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
    'comment', pg_catalog.obj_description(t.oid, 'pg_type'))
FROM pg_catalog.pg_type t
WHERE t.oid = pg_catalog.to_regtype(%(identity)s::text)
