-- Script tracking system: psql installer (all-or-nothing).
--   psql -X -v ON_ERROR_STOP=1 -d <db> -f sql/install.sql
-- Requires PostgreSQL 13+, no extensions; run as a superuser (event triggers, and
-- the objects are handed to the NOLOGIN role script_tracking_owner, created if missing).
-- Install into a database that does not have the system yet (run
-- sql/uninstall.sql first to replace an older or broken installation).
\set ON_ERROR_STOP on
BEGIN;
\ir 00_schemas.sql
\ir 10_audit.sql
\ir 20_tracking.sql
\ir 30_ddl_tracker.sql
\ir 35_owner.sql
\ir 40_ddl_triggers.sql
COMMIT;
