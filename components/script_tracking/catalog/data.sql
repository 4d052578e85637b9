-- Rows of a settings table managed as data (for example the DDL tracker's filters).
SELECT pg_catalog.json_build_object('rows', COALESCE(pg_catalog.json_agg(t ORDER BY t), '[]'::json))
FROM {table} t
