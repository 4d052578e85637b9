-- Script tracking system: complete rollback (one transaction, safe to run twice).
--   psql -X -v ON_ERROR_STOP=1 -d <db> -f sql/uninstall.sql
-- Removes every object of the system, INCLUDING ITS DATA (tracking history and
-- audit log): the event triggers first (so the drops below are not tracked),
-- then the public wrappers, then the schemas script_tracking and util with
-- everything in them, then the role script_tracking_owner if no other database
-- uses it.
\set ON_ERROR_STOP on
BEGIN;
DROP EVENT TRIGGER IF EXISTS auto_ddl_tracker;
DROP EVENT TRIGGER IF EXISTS auto_ddl_tracker_drop;
DROP FUNCTION IF EXISTS public.track_operation(text, text, jsonb);
DROP FUNCTION IF EXISTS public.track_operation(text, text);
DROP FUNCTION IF EXISTS public.complete_operation(bytea, boolean, text);
DROP FUNCTION IF EXISTS public.complete_operation(bytea, boolean);
DROP SCHEMA IF EXISTS script_tracking CASCADE;
DROP SCHEMA IF EXISTS util CASCADE;
-- the owner role goes too, unless another database's installation still uses it
DO $$
BEGIN
    DROP ROLE IF EXISTS script_tracking_owner;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'script_tracking_owner is kept: other databases still use it';
END
$$;
COMMIT;
