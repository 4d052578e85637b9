-- Live shape of a table: columns in order, constraints by name, what PUBLIC may do.
SELECT pg_catalog.json_build_object(
    'columns', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
                    a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum)
                FROM pg_catalog.pg_attribute a
                LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
    'constraints', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
                        con.conname, pg_catalog.pg_get_constraintdef(con.oid)) ORDER BY con.conname)
                    FROM pg_catalog.pg_constraint con WHERE con.conrelid = c.oid),
    'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))) a WHERE a.grantee = 0 ORDER BY 1))
FROM pg_catalog.pg_class c
WHERE c.oid = pg_catalog.to_regclass(%(identity)s::text) AND c.relkind IN ('r', 'p')
