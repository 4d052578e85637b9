-- Automatic DDL tracking switch: the event triggers only (optional; needs a
-- superuser). Functions are in 30_ddl_tracker.sql.

CREATE EVENT TRIGGER auto_ddl_tracker ON ddl_command_end
    EXECUTE FUNCTION script_tracking.ddl_tracker_command_end();

COMMENT ON EVENT TRIGGER auto_ddl_tracker IS
'Script tracking: records every DDL command (see script_tracking.ddl_tracker_command_end).';

CREATE EVENT TRIGGER auto_ddl_tracker_drop ON sql_drop
    EXECUTE FUNCTION script_tracking.ddl_tracker_sql_drop();

COMMENT ON EVENT TRIGGER auto_ddl_tracker_drop IS
'Script tracking: records every DROP with the dropped object''s identity (see script_tracking.ddl_tracker_sql_drop).';
