-- What the connected database is, whatever address reached it: the cluster's system
-- identifier (from its control file) and the database's OID in that cluster.
SELECT pg_catalog.json_build_object(
    'system', (SELECT c.system_identifier::text FROM pg_catalog.pg_control_system() c),
    'oid', (SELECT d.oid::bigint FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()))
