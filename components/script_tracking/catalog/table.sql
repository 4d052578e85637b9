-- Live shape of a table: columns by name (type with typmod, NOT NULL, default; their order
-- is not compared: a column added later comes last), constraints by name as PostgreSQL
-- prints them (NOT NULL ones follow the columns), what PUBLIC may do, its comment.
SELECT pg_catalog.json_build_object(
    'columns', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
                    a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attname)
                FROM pg_catalog.pg_attribute a
                LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
    'constraints', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
                        con.conname, pg_catalog.pg_get_constraintdef(con.oid)) ORDER BY con.conname)
                    FROM pg_catalog.pg_constraint con WHERE con.conrelid = c.oid AND con.contype <> 'n'),
    'public', ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))) a WHERE a.grantee = 0 ORDER BY 1),
    'comment', pg_catalog.obj_description(c.oid, 'pg_class'))
FROM pg_catalog.pg_class c
WHERE c.oid = pg_catalog.to_regclass(%(identity)s::text) AND c.relkind IN ('r', 'p')
