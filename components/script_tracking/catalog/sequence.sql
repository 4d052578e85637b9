-- Live definition of a sequence (not its current value: that is data).
SELECT pg_catalog.json_build_object(
    'type', pg_catalog.format_type(s.seqtypid, NULL), 'start', s.seqstart, 'increment', s.seqincrement,
    'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle, 'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(c.relacl, pg_catalog.acldefault('s', c.relowner))) a WHERE a.grantee = 0 ORDER BY 1),
    'comment', pg_catalog.obj_description(c.oid, 'pg_class'))
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
WHERE c.oid = pg_catalog.to_regclass(%(identity)s::text) AND c.relkind = 'S'
