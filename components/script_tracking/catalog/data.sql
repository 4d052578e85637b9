-- Rows of a settings table managed as data (for example the DDL tracker's filters): the
-- columns its INSERT names, so that a column the table fills itself (a timestamp) is not compared.
SELECT pg_catalog.json_build_object('rows', COALESCE(pg_catalog.json_agg(t ORDER BY t), '[]'::json))
FROM (SELECT {columns} FROM {table}) t
