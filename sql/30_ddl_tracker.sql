-- Automatic DDL tracker: filter table, event trigger functions and a view.
-- The CREATE EVENT TRIGGER statements are in 40_ddl_triggers.sql (optional).
-- Declarative: one object per statement, everything schema-qualified.
--
-- Exactly once:
--   * ddl_command_end records one execution per row of
--     pg_event_trigger_ddl_commands() (CREATE SCHEMA s CREATE TABLE ... gives
--     one row per created object). DROP statements collect no rows there, so
--     for 'DROP ...' tags ddl_command_end returns at once, touching nothing.
--   * sql_drop records DROP statements only (TG_TAG 'DROP ...'): one execution
--     per ORIGINAL dropped object (the ones named in the statement); objects
--     removed by CASCADE (normal dependencies; not views' internal _RETURN
--     rules) are listed in details.cascaded.
--     sql_drop also fires for ALTER TABLE ... DROP COLUMN/CONSTRAINT: those are
--     skipped there because ddl_command_end records the ALTER itself.
--   * The tracker only runs DML, which fires no event triggers: no recursion.
-- Never breaks the user's DDL: all work runs inside BEGIN ... EXCEPTION WHEN
-- OTHERS (a failure becomes a WARNING with its SQLSTATE), and the functions
-- carry SET lock_timeout = '300ms', so a locked tracking table delays the DDL
-- by at most ~300 ms per event. Rolled-back DDL leaves no rows (same transaction).
-- Cost: ONE statement per event (filter read, numbering, hashing, hub and
-- satellite inserts for all of the event's commands in a single CTE); DDL is
-- recorded as a single COMPLETED version (it has finished when the trigger
-- runs) and writes no util.audit_log row: the satellite row is the record.

CREATE TABLE script_tracking.ddl_tracker_filter (
    kind       text        NOT NULL,
    value      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT ddl_tracker_filter_pk PRIMARY KEY (kind, value),
    CONSTRAINT ddl_tracker_filter_kind_ck
        CHECK (kind IN ('include_schema', 'exclude_schema', 'include_tag', 'exclude_tag')),
    CONSTRAINT ddl_tracker_filter_value_ck CHECK (value <> '')
);

COMMENT ON TABLE script_tracking.ddl_tracker_filter IS
'What the DDL tracker records. Empty = everything. kind include_schema/exclude_schema: value is a schema name '
'(exact, case-sensitive; for CREATE/DROP SCHEMA the schema itself). kind include_tag/exclude_tag: value is a '
'command tag such as CREATE TABLE (case-insensitive). If any include rows of a kind exist, only matching commands '
'are tracked (objects without a schema never match include_schema); exclude rows always win.';

REVOKE ALL ON TABLE script_tracking.ddl_tracker_filter FROM PUBLIC;

CREATE FUNCTION script_tracking.ddl_tracker_command_end()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '300ms'
AS $$
BEGIN
    -- DROP statements collect no commands here (sql_drop records them):
    -- leave at once, without touching any table.
    IF TG_TAG LIKE 'DROP %' THEN
        RETURN;
    END IF;
    BEGIN
        -- One statement per event: filter, number, hash and insert hub rows
        -- and their single COMPLETED satellite version for all commands.
        WITH f AS (
            SELECT COALESCE(pg_catalog.array_agg(ft.value) FILTER (WHERE ft.kind = 'include_schema'), '{}') AS inc_schema,
                   COALESCE(pg_catalog.array_agg(ft.value) FILTER (WHERE ft.kind = 'exclude_schema'), '{}') AS exc_schema,
                   COALESCE(pg_catalog.array_agg(pg_catalog.upper(ft.value)) FILTER (WHERE ft.kind = 'include_tag'), '{}') AS inc_tag,
                   COALESCE(pg_catalog.array_agg(pg_catalog.upper(ft.value)) FILTER (WHERE ft.kind = 'exclude_tag'), '{}') AS exc_tag
              FROM script_tracking.ddl_tracker_filter ft
        ), cmd AS (
            SELECT pg_catalog.nextval('script_tracking.script_execution_id_seq'::pg_catalog.regclass) AS id, x.*
              FROM (SELECT c.command_tag, c.object_type, c.object_identity, c.in_extension, c.tag, c.sch
                      FROM (SELECT d.command_tag, d.object_type, d.object_identity, d.in_extension, d.ord,
                                   pg_catalog.upper(d.command_tag) AS tag,
                                   CASE WHEN d.object_type = 'schema' THEN d.object_identity ELSE d.schema_name END AS sch
                              FROM pg_catalog.pg_event_trigger_ddl_commands()
                                   WITH ORDINALITY AS d(classid, objid, objsubid, command_tag, object_type, schema_name,
                                                        object_identity, in_extension, command, ord)) c
                     CROSS JOIN f
                     WHERE NOT COALESCE(c.sch = ANY (f.exc_schema), false)
                       AND NOT (c.tag = ANY (f.exc_tag))
                       AND (pg_catalog.cardinality(f.inc_schema) = 0 OR COALESCE(c.sch = ANY (f.inc_schema), false))
                       AND (pg_catalog.cardinality(f.inc_tag) = 0 OR c.tag = ANY (f.inc_tag))
                     ORDER BY c.ord) x
        ), k AS (
            SELECT cmd.*, n.name, n.name || '#' || cmd.id::text AS bk,
                   pg_catalog.sha256(pg_catalog.convert_to(n.name || '#' || cmd.id::text, 'UTF8')) AS hk
              FROM cmd
             CROSS JOIN LATERAL (SELECT 'AUTO_DDL_' || pg_catalog.replace(cmd.tag, ' ', '_') AS name) n
        ), h AS (
            INSERT INTO script_tracking.script_execution_h
                (script_execution_hk, script_execution_bk, execution_id, script_name, script_type, load_date, record_source)
            SELECT k.hk, k.bk, k.id, k.name, 'DDL', pg_catalog.statement_timestamp(), 'event_trigger:ddl_command_end'
              FROM k
        )
        INSERT INTO script_tracking.script_execution_s
            (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
             end_time, duration, db_session_user, client_addr, application_name, details)
        SELECT k.hk, pg_catalog.clock_timestamp(), 'event_trigger:ddl_command_end', k.name, 'DDL', 'COMPLETED',
               pg_catalog.statement_timestamp(), pg_catalog.clock_timestamp(),
               pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp(),
               SESSION_USER, pg_catalog.inet_client_addr(), pg_catalog.current_setting('application_name', true),
               pg_catalog.jsonb_build_object(
                   'event', 'ddl_command_end',
                   'command_tag', k.command_tag,
                   'object_type', k.object_type,
                   'object_identity', k.object_identity,
                   'schema_name', k.sch,
                   'in_extension', k.in_extension,
                   'statement', pg_catalog.left(pg_catalog.current_query(), 10000))
          FROM k
         ORDER BY k.id;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'script_tracking: DDL tracking skipped for % (SQLSTATE %): %', TG_TAG, SQLSTATE, SQLERRM
            USING HINT = 'The DDL itself succeeded; only its tracking record is missing.';
    END;
END;
$$;

COMMENT ON FUNCTION script_tracking.ddl_tracker_command_end() IS
'Event trigger function (ddl_command_end, trigger auto_ddl_tracker): records each command of '
'pg_event_trigger_ddl_commands() as one DDL execution. Never raises: failures become a WARNING.';

REVOKE ALL ON FUNCTION script_tracking.ddl_tracker_command_end() FROM PUBLIC;

CREATE FUNCTION script_tracking.ddl_tracker_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '300ms'
AS $$
DECLARE
    v_tag text := pg_catalog.upper(TG_TAG);
BEGIN
    -- ALTER ... DROP COLUMN/CONSTRAINT etc. are recorded by ddl_command_end.
    IF v_tag NOT LIKE 'DROP %' THEN
        RETURN;
    END IF;
    BEGIN
        -- One statement per event: one execution per ORIGINAL dropped object,
        -- the objects removed by CASCADE go into details.cascaded.
        WITH f AS (
            SELECT COALESCE(pg_catalog.array_agg(ft.value) FILTER (WHERE ft.kind = 'include_schema'), '{}') AS inc_schema,
                   COALESCE(pg_catalog.array_agg(ft.value) FILTER (WHERE ft.kind = 'exclude_schema'), '{}') AS exc_schema,
                   COALESCE(pg_catalog.array_agg(pg_catalog.upper(ft.value)) FILTER (WHERE ft.kind = 'include_tag'), '{}') AS inc_tag,
                   COALESCE(pg_catalog.array_agg(pg_catalog.upper(ft.value)) FILTER (WHERE ft.kind = 'exclude_tag'), '{}') AS exc_tag
              FROM script_tracking.ddl_tracker_filter ft
        ), d AS (
            SELECT o.original, o.normal, o.is_temporary, o.object_type, o.object_identity, o.ord,
                   CASE WHEN o.object_type = 'schema' THEN o.object_identity ELSE o.schema_name END AS sch
              FROM pg_catalog.pg_event_trigger_dropped_objects()
                   WITH ORDINALITY AS o(classid, objid, objsubid, original, normal, is_temporary, object_type,
                                        schema_name, object_name, object_identity, address_names, address_args, ord)
        ), casc AS (
            SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('object_type', d.object_type,
                                                                               'object_identity', d.object_identity)
                                                 ORDER BY d.ord)
                                FILTER (WHERE NOT d.original AND d.normal
                                          AND NOT (d.object_type = 'rule' AND d.object_identity LIKE '"\_RETURN" on %')),
                            '[]'::jsonb) AS cascaded
              FROM d
        ), obj AS (
            SELECT pg_catalog.nextval('script_tracking.script_execution_id_seq'::pg_catalog.regclass) AS id, x.*
              FROM (SELECT d.object_type, d.object_identity, d.is_temporary, d.sch
                      FROM d
                     CROSS JOIN f
                     WHERE d.original
                       AND NOT COALESCE(d.sch = ANY (f.exc_schema), false)
                       AND NOT (v_tag = ANY (f.exc_tag))
                       AND (pg_catalog.cardinality(f.inc_schema) = 0 OR COALESCE(d.sch = ANY (f.inc_schema), false))
                       AND (pg_catalog.cardinality(f.inc_tag) = 0 OR v_tag = ANY (f.inc_tag))
                     ORDER BY d.ord) x
        ), k AS (
            SELECT obj.*, n.name, n.name || '#' || obj.id::text AS bk,
                   pg_catalog.sha256(pg_catalog.convert_to(n.name || '#' || obj.id::text, 'UTF8')) AS hk
              FROM obj
             CROSS JOIN LATERAL (SELECT 'AUTO_DDL_' || pg_catalog.replace(v_tag, ' ', '_') AS name) n
        ), h AS (
            INSERT INTO script_tracking.script_execution_h
                (script_execution_hk, script_execution_bk, execution_id, script_name, script_type, load_date, record_source)
            SELECT k.hk, k.bk, k.id, k.name, 'DDL', pg_catalog.statement_timestamp(), 'event_trigger:sql_drop'
              FROM k
        )
        INSERT INTO script_tracking.script_execution_s
            (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
             end_time, duration, db_session_user, client_addr, application_name, details)
        SELECT k.hk, pg_catalog.clock_timestamp(), 'event_trigger:sql_drop', k.name, 'DDL', 'COMPLETED',
               pg_catalog.statement_timestamp(), pg_catalog.clock_timestamp(),
               pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp(),
               SESSION_USER, pg_catalog.inet_client_addr(), pg_catalog.current_setting('application_name', true),
               pg_catalog.jsonb_build_object(
                   'event', 'sql_drop',
                   'command_tag', TG_TAG,
                   'object_type', k.object_type,
                   'object_identity', k.object_identity,
                   'schema_name', k.sch,
                   'is_temporary', k.is_temporary,
                   'cascaded', casc.cascaded,
                   'statement', pg_catalog.left(pg_catalog.current_query(), 10000))
          FROM k
         CROSS JOIN casc
         ORDER BY k.id;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'script_tracking: DDL tracking skipped for % (SQLSTATE %): %', TG_TAG, SQLSTATE, SQLERRM
            USING HINT = 'The DDL itself succeeded; only its tracking record is missing.';
    END;
END;
$$;

COMMENT ON FUNCTION script_tracking.ddl_tracker_sql_drop() IS
'Event trigger function (sql_drop, trigger auto_ddl_tracker_drop): records each object named in a DROP statement '
'as one DDL execution (cascaded objects in details.cascaded). Never raises: failures become a WARNING.';

REVOKE ALL ON FUNCTION script_tracking.ddl_tracker_sql_drop() FROM PUBLIC;

CREATE VIEW script_tracking.ddl_history AS
SELECT h.execution_id,
       h.script_execution_hk,
       h.load_date                         AS executed_at,
       s.details ->> 'command_tag'         AS command_tag,
       s.details ->> 'object_type'         AS object_type,
       s.details ->> 'object_identity'     AS object_identity,
       s.details ->> 'schema_name'         AS schema_name,
       s.db_session_user,
       s.client_addr,
       s.application_name,
       s.details ->> 'statement'           AS statement,
       s.details -> 'cascaded'             AS cascaded,
       h.record_source
  FROM script_tracking.script_execution_h h
  JOIN script_tracking.script_execution_s s ON s.script_execution_hk = h.script_execution_hk
 WHERE h.record_source IN ('event_trigger:ddl_command_end', 'event_trigger:sql_drop');

COMMENT ON VIEW script_tracking.ddl_history IS
'DDL recorded by the event triggers, one row per tracked command/dropped object; order by execution_id.';

REVOKE ALL ON TABLE script_tracking.ddl_history FROM PUBLIC;
