-- Whether a role is still used outside the current database: privileges, ownership
-- or default privileges recorded in another database, or a shared object (a
-- database, a tablespace) it owns. A role of ours is dropped only when this is false.
SELECT EXISTS (
    SELECT 1
    FROM pg_catalog.pg_shdepend d
    WHERE d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
      AND d.refobjid = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = %(identity)s::text)
      AND d.dbid <> (SELECT b.oid FROM pg_catalog.pg_database b WHERE b.datname = pg_catalog.current_database()))
