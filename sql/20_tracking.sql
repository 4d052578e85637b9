-- Script tracking core (schema script_tracking): Data Vault hub + insert-only
-- satellite, the tracking API and the public wrappers the users call.
-- Declarative: one object per statement, everything schema-qualified.
--
-- Business key / hash key: every execution draws execution_id from
-- script_tracking.script_execution_id_seq; the business key is
-- '<script_name>#<execution_id>', unique by construction (a sequence, never
-- reused). The hash key (32 bytes) is the execution_id (8 bytes, big-endian) and 24
-- bytes of sha256 of the business key and a random UUID: unique too, growing (new
-- keys go to the right edge of the indexes on them, so tracking does not slow down as
-- history grows), and nobody can derive another execution's key from its name and id.
--
-- Completion rights: only the login that started an execution, or a login that
-- is a member of that login's role (GRANT starter TO other), may complete it;
-- to everyone else an execution that is not theirs looks unknown (ST004).
--
-- Limits: script name, details and error message sizes are bounded
-- (script_tracking.tracking_limit, defaults in script_tracking.tracking_limits);
-- errors echo at most a short prefix of any input (script_tracking.shorten).
--
-- History query strategy: get_execution_history walks newest-first through an
-- index and, per execution, fetches the latest satellite version with a LATERAL
-- backward scan of the satellite primary key (hk, version_number) LIMIT 1: an
-- index-driven top-N, ~p_limit index probes whatever the table size. What it
-- walks depends on the status filter, so that rare statuses cost no more than
-- common ones:
--   * none or COMPLETED: the hub, by (load_date DESC, execution_id DESC) or the
--     (script_name, ...) / (script_type, ...) variants;
--   * FAILED: the satellite's FAILED versions (small partial indexes keyed by
--     start_time, which is the hub's load_date in every version); the walked
--     version is the latest when no later one exists (an index-only probe);
--   * RUNNING: script_execution_running, the executions started and not yet
--     completed (track_operation adds a row, complete_operation removes it).
-- The satellite stays strictly insert-only (no "latest status" column to update).
--
-- Retention: purge_executions deletes executions older than an age (hub rows,
-- their versions, running-set and audit rows) in short batches (see its comment).

CREATE SEQUENCE script_tracking.script_execution_version_seq AS bigint;

COMMENT ON SEQUENCE script_tracking.script_execution_version_seq IS
'version_number of script_tracking.script_execution_s: globally increasing, so every satellite version is unique.';

REVOKE ALL ON SEQUENCE script_tracking.script_execution_version_seq FROM PUBLIC;

CREATE SEQUENCE script_tracking.script_execution_id_seq AS bigint;

COMMENT ON SEQUENCE script_tracking.script_execution_id_seq IS
'execution_id of script_tracking.script_execution_h: the part of the business key that makes it unique per execution.';

REVOKE ALL ON SEQUENCE script_tracking.script_execution_id_seq FROM PUBLIC;

CREATE FUNCTION script_tracking.valid_script_types()
RETURNS text[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT ARRAY['DEPLOYMENT', 'MIGRATION', 'MAINTENANCE', 'VALIDATION',
                 'ROLLBACK', 'DATA_FIX', 'DDL', 'ADHOC']::text[]
$$;

COMMENT ON FUNCTION script_tracking.valid_script_types() IS
'The closed set of script types: DEPLOYMENT, MIGRATION, MAINTENANCE, VALIDATION, ROLLBACK, DATA_FIX, '
'DDL (used by the automatic DDL tracker), ADHOC. Must match the CHECK constraints of the hub and satellite.';

REVOKE ALL ON FUNCTION script_tracking.valid_script_types() FROM PUBLIC;

CREATE TABLE script_tracking.tracking_limit (
    name  text    NOT NULL CONSTRAINT tracking_limit_pk PRIMARY KEY,
    value integer NOT NULL,
    CONSTRAINT tracking_limit_name_ck
        CHECK (name IN ('script_name_chars', 'details_bytes', 'error_message_chars', 'retention_days')),
    CONSTRAINT tracking_limit_value_ck
        CHECK (value > 0 AND (name <> 'script_name_chars' OR value <= 255)
               AND (name <> 'retention_days' OR value <= 36500))
);

COMMENT ON TABLE script_tracking.tracking_limit IS
'Size limits of the tracking functions, by name: script_name_chars (1-255, default 255; SQLSTATE ST002), '
'details_bytes (the details JSON as text, default 65536; ST007), error_message_chars (default 65536; ST008). '
'A missing row means the default (script_tracking.tracking_limits). '
'retention_days (1-36500, no row = no retention): the age purge_executions() purges executions at.';

REVOKE ALL ON TABLE script_tracking.tracking_limit FROM PUBLIC;

-- The limits as one row, defaults applied: the tracking functions read it once per call
-- (a function per limit is not inlined, its table read makes it a query of its own).
CREATE VIEW script_tracking.tracking_limits AS
SELECT COALESCE(pg_catalog.max(l.value) FILTER (WHERE l.name = 'script_name_chars'), 255) AS script_name_chars,
       COALESCE(pg_catalog.max(l.value) FILTER (WHERE l.name = 'details_bytes'), 65536) AS details_bytes,
       COALESCE(pg_catalog.max(l.value) FILTER (WHERE l.name = 'error_message_chars'), 65536) AS error_message_chars,
       pg_catalog.max(l.value) FILTER (WHERE l.name = 'retention_days') AS retention_days
  FROM script_tracking.tracking_limit l;

COMMENT ON VIEW script_tracking.tracking_limits IS
'script_tracking.tracking_limit as one row, a missing row its default: script_name_chars (255), details_bytes '
'(65536), error_message_chars (65536), retention_days (NULL: no retention).';

REVOKE ALL ON TABLE script_tracking.tracking_limits FROM PUBLIC;

CREATE FUNCTION script_tracking.limit_value(p_name text)
RETURNS integer
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE p_name WHEN 'script_name_chars' THEN l.script_name_chars WHEN 'details_bytes' THEN l.details_bytes
                       WHEN 'error_message_chars' THEN l.error_message_chars WHEN 'retention_days' THEN l.retention_days
           END
      FROM script_tracking.tracking_limits l
$$;

COMMENT ON FUNCTION script_tracking.limit_value(text) IS
'The limit named p_name as script_tracking.tracking_limits gives it (NULL for retention_days without a row, and '
'for an unknown name).';

REVOKE ALL ON FUNCTION script_tracking.limit_value(text) FROM PUBLIC;

CREATE FUNCTION script_tracking.shorten(p_value text)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN p_value IS NULL THEN 'NULL'
                WHEN pg_catalog.char_length(p_value) <= 64 THEN pg_catalog.quote_literal(p_value)
                ELSE pg_catalog.quote_literal(pg_catalog.left(p_value, 64))
                     || '... (' || pg_catalog.char_length(p_value)::text || ' characters)' END
$$;

COMMENT ON FUNCTION script_tracking.shorten(text) IS
'An input as error messages echo it: quoted, at most its first 64 characters, with its length when cut.';

REVOKE ALL ON FUNCTION script_tracking.shorten(text) FROM PUBLIC;

CREATE TABLE script_tracking.script_execution_h (
    script_execution_hk bytea       NOT NULL CONSTRAINT script_execution_h_pk PRIMARY KEY,
    script_execution_bk text        NOT NULL,
    execution_id        bigint      NOT NULL,
    script_name         text        NOT NULL,
    script_type         text        NOT NULL,
    load_date           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    record_source       text        NOT NULL,
    CONSTRAINT script_execution_h_name_ck
        CHECK (pg_catalog.char_length(script_name) BETWEEN 1 AND 255),
    CONSTRAINT script_execution_h_type_ck
        CHECK (script_type IN ('DEPLOYMENT', 'MIGRATION', 'MAINTENANCE', 'VALIDATION',
                               'ROLLBACK', 'DATA_FIX', 'DDL', 'ADHOC'))
);

COMMENT ON TABLE script_tracking.script_execution_h IS
'Hub: one row per script execution. script_execution_hk = int8send(execution_id) || the first 24 bytes of '
'sha256(script_execution_bk || ''#'' || a random UUID), '
'script_execution_bk = script_name || ''#'' || execution_id, execution_id from script_execution_id_seq. '
'load_date is the start time of the execution; script_name/script_type are kept here for the history query indexes. '
'execution_id is unique by construction (sequence) and, through the business key, by the primary key.';

CREATE INDEX script_execution_h_recent_idx
    ON script_tracking.script_execution_h (load_date DESC, execution_id DESC);

CREATE INDEX script_execution_h_name_recent_idx
    ON script_tracking.script_execution_h (script_name, load_date DESC, execution_id DESC);

CREATE INDEX script_execution_h_type_recent_idx
    ON script_tracking.script_execution_h (script_type, load_date DESC, execution_id DESC);

REVOKE ALL ON TABLE script_tracking.script_execution_h FROM PUBLIC;

CREATE TABLE script_tracking.script_execution_s (
    script_execution_hk bytea       NOT NULL
        CONSTRAINT script_execution_s_h_fk REFERENCES script_tracking.script_execution_h (script_execution_hk),
    version_number      bigint      NOT NULL
        DEFAULT pg_catalog.nextval('script_tracking.script_execution_version_seq'::pg_catalog.regclass),
    load_date           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    record_source       text        NOT NULL,
    script_name         text        NOT NULL,
    script_type         text        NOT NULL,
    status              text        NOT NULL,
    start_time          timestamptz NOT NULL,
    end_time            timestamptz,
    duration            interval,
    error_message       text,
    db_session_user     text        NOT NULL,
    client_addr         inet,
    application_name    text,
    details             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT script_execution_s_pk PRIMARY KEY (script_execution_hk, version_number),
    CONSTRAINT script_execution_s_status_ck CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED')),
    CONSTRAINT script_execution_s_end_ck CHECK ((status = 'RUNNING') = (end_time IS NULL))
);

COMMENT ON TABLE script_tracking.script_execution_s IS
'Satellite: insert-only versions of an execution (RUNNING, then COMPLETED or FAILED; DDL tracked by the event '
'triggers is recorded directly as one COMPLETED version). version_number from script_execution_version_seq. '
'db_session_user is the login role (session_user), client_addr/application_name identify the client. '
'script_name/script_type are copied from the hub (whose CHECK constraint enforces the closed type set).';

CREATE UNIQUE INDEX script_execution_s_one_final_uq
    ON script_tracking.script_execution_s (script_execution_hk) WHERE status IN ('COMPLETED', 'FAILED');

REVOKE ALL ON TABLE script_tracking.script_execution_s FROM PUBLIC;

-- FAILED versions, newest first: few of them, so small indexes; a FAILED version is
-- always an execution's last (complete_operation refuses a second final version).
CREATE INDEX script_execution_s_failed_recent_idx
    ON script_tracking.script_execution_s (start_time DESC) WHERE status = 'FAILED';

CREATE INDEX script_execution_s_failed_name_idx
    ON script_tracking.script_execution_s (script_name, start_time DESC) WHERE status = 'FAILED';

CREATE INDEX script_execution_s_failed_type_idx
    ON script_tracking.script_execution_s (script_type, start_time DESC) WHERE status = 'FAILED';

-- The executions not completed (no COMPLETED or FAILED version), from the whole hub and
-- the final versions' index in one anti-join (not a probe per execution): what the running
-- set holds. It fills the set when the set is created, and rebuild_running_set().
CREATE VIEW script_tracking.script_execution_running_derived AS
SELECT h.script_execution_hk, h.load_date, h.execution_id
  FROM script_tracking.script_execution_h h
 WHERE NOT EXISTS (SELECT 1 FROM script_tracking.script_execution_s f
                    WHERE f.script_execution_hk = h.script_execution_hk AND f.status IN ('COMPLETED', 'FAILED'));

COMMENT ON VIEW script_tracking.script_execution_running_derived IS
'The executions without a COMPLETED or FAILED version (hash key, load_date, execution_id), read from the whole hub: '
'what script_tracking.script_execution_running holds. Fills it when it is created; rebuild_running_set().';

REVOKE ALL ON TABLE script_tracking.script_execution_running_derived FROM PUBLIC;

CREATE TABLE script_tracking.script_execution_running (
    script_execution_hk bytea       NOT NULL CONSTRAINT script_execution_running_pk PRIMARY KEY,
    load_date           timestamptz NOT NULL,
    execution_id        bigint      NOT NULL
);

COMMENT ON TABLE script_tracking.script_execution_running IS
'The executions started by track_operation and not completed yet (hash key, and the hub''s load_date and '
'execution_id for the newest-first order): get_execution_history(p_status => ''RUNNING'') reads it instead of '
'the whole history. track_operation inserts, complete_operation and purge_executions delete; '
'filled when it is created (an installation made before it gets its executions not completed: '
'script_execution_running_derived); '
'rebuild_running_set() makes it again.';

CREATE INDEX script_execution_running_recent_idx
    ON script_tracking.script_execution_running (load_date DESC, execution_id DESC);

REVOKE ALL ON TABLE script_tracking.script_execution_running FROM PUBLIC;

-- Run when the table is created, never again (an INSERT attached to a table): on an
-- installation made before the running set, the executions still running go in at once.
INSERT INTO script_tracking.script_execution_running (script_execution_hk, load_date, execution_id)
SELECT d.script_execution_hk, d.load_date, d.execution_id
  FROM script_tracking.script_execution_running_derived d;

CREATE FUNCTION script_tracking.track_operation(
    p_script_name text,
    p_script_type text,
    p_details     jsonb DEFAULT '{}'::jsonb
) RETURNS bytea
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_type text := pg_catalog.upper(pg_catalog.btrim(p_script_type));
    v_id   bigint;
    v_bk   text;
    v_hk   bytea;
    v_now  timestamptz;
    v_lim  record;
BEGIN
    IF p_script_name IS NULL OR p_script_name ~ '^[[:space:]]*$' THEN  -- blank: white space only
        RAISE EXCEPTION 'script name must not be null or empty'
            USING ERRCODE = 'ST001';
    END IF;
    SELECT l.script_name_chars, l.details_bytes INTO v_lim FROM script_tracking.tracking_limits l;
    IF pg_catalog.char_length(p_script_name) > v_lim.script_name_chars THEN
        RAISE EXCEPTION 'script name is too long (% characters, at most %)', pg_catalog.char_length(p_script_name),
                        v_lim.script_name_chars
            USING ERRCODE = 'ST002';
    END IF;
    IF v_type IS NULL OR NOT (v_type = ANY (script_tracking.valid_script_types())) THEN
        RAISE EXCEPTION 'unknown script type %', script_tracking.shorten(p_script_type)
            USING ERRCODE = 'ST003',
                  HINT = 'valid script types: ' || pg_catalog.array_to_string(script_tracking.valid_script_types(), ', ');
    END IF;
    IF p_details IS NOT NULL AND pg_catalog.jsonb_typeof(p_details) <> 'object' THEN
        RAISE EXCEPTION 'details must be a JSON object, got %', pg_catalog.jsonb_typeof(p_details)
            USING ERRCODE = 'ST006';
    END IF;
    IF pg_catalog.octet_length(p_details::text) > v_lim.details_bytes THEN
        RAISE EXCEPTION 'details are too large (% bytes as text, at most %)', pg_catalog.octet_length(p_details::text),
                        v_lim.details_bytes
            USING ERRCODE = 'ST007';
    END IF;

    v_id  := pg_catalog.nextval('script_tracking.script_execution_id_seq'::pg_catalog.regclass);
    v_bk  := p_script_name || '#' || v_id::text;
    -- the execution id first, so keys grow: a new key goes to the right edge of every index
    -- on it (not to a random leaf of a large index); then a random part, so nobody can derive
    -- another execution's key from its name and id
    v_hk  := pg_catalog.int8send(v_id)
             || pg_catalog.substr(pg_catalog.sha256(pg_catalog.convert_to(
                    v_bk || '#' || pg_catalog.gen_random_uuid()::text, 'UTF8')), 1, 24);
    v_now := pg_catalog.clock_timestamp();

    INSERT INTO script_tracking.script_execution_h
        (script_execution_hk, script_execution_bk, execution_id, script_name, script_type, load_date, record_source)
    VALUES (v_hk, v_bk, v_id, p_script_name, v_type, v_now, 'script_tracking.track_operation');

    INSERT INTO script_tracking.script_execution_s
        (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
         db_session_user, client_addr, application_name, details)
    VALUES (v_hk, v_now, 'script_tracking.track_operation', p_script_name, v_type, 'RUNNING', v_now,
            SESSION_USER, pg_catalog.inet_client_addr(),
            pg_catalog.current_setting('application_name', true), COALESCE(p_details, '{}'::jsonb));

    INSERT INTO script_tracking.script_execution_running (script_execution_hk, load_date, execution_id)
    VALUES (v_hk, v_now, v_id);

    -- util.log_audit_event's row, written directly (same owner; no nested definer call)
    INSERT INTO util.audit_log (event_type, resource_type, resource_id, actor, details)
    VALUES ('SCRIPT_EXECUTION_STARTED', 'SCRIPT_EXECUTION', pg_catalog.encode(v_hk, 'hex'), SESSION_USER,
            pg_catalog.jsonb_build_object('execution_id', v_id, 'script_name', p_script_name,
                                          'script_type', v_type, 'status', 'RUNNING'));
    RETURN v_hk;
END;
$$;

COMMENT ON FUNCTION script_tracking.track_operation(text, text, jsonb) IS
'Start tracking an execution: inserts the hub row and the RUNNING satellite version, writes an audit event and '
'returns the execution hash key (bytea) for complete_operation. script_type is case-insensitive. '
'Errors: ST001 null/empty name, ST002 name longer than the script_name_chars limit (255), ST003 unknown script type, '
'ST006 details not a JSON object, ST007 details larger than the details_bytes limit (65536 bytes as text).';

REVOKE ALL ON FUNCTION script_tracking.track_operation(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION script_tracking.complete_operation(
    p_execution_hk  bytea,
    p_success       boolean,
    p_error_message text DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_first  record;
    v_id     bigint;
    v_last   text;
    v_status text := CASE WHEN p_success THEN 'COMPLETED' ELSE 'FAILED' END;
    v_now    timestamptz;
BEGIN
    IF p_execution_hk IS NULL THEN
        RAISE EXCEPTION 'execution hash key must not be null'
            USING ERRCODE = 'ST004';
    END IF;
    IF p_success IS NULL THEN
        RAISE EXCEPTION 'success flag must not be null'
            USING ERRCODE = 'ST006';
    END IF;
    IF p_error_message IS NOT NULL
       AND pg_catalog.char_length(p_error_message) > script_tracking.limit_value('error_message_chars') THEN
        RAISE EXCEPTION 'error message is too long (% characters, at most %)', pg_catalog.char_length(p_error_message),
                        script_tracking.limit_value('error_message_chars')
            USING ERRCODE = 'ST008';
    END IF;

    -- Whose is it, and what: its first version, the RUNNING one track_operation wrote. The
    -- login that started it, or a member of that login's role, may complete it. Checked
    -- before any lock, so nobody else can stall it, and with the same error as an unknown
    -- key, so nobody else can probe it.
    SELECT s.db_session_user, s.script_name, s.script_type, s.start_time, s.details
      INTO v_first
      FROM script_tracking.script_execution_s s
     WHERE s.script_execution_hk = p_execution_hk
     ORDER BY s.version_number
     LIMIT 1;
    IF NOT FOUND OR (v_first.db_session_user <> SESSION_USER AND NOT COALESCE(
            (SELECT pg_catalog.pg_has_role(SESSION_USER, r.oid, 'MEMBER')
               FROM pg_catalog.pg_roles r WHERE r.rolname = v_first.db_session_user),
            -- that login is gone: a superuser may still
            (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = SESSION_USER))) THEN
        RAISE EXCEPTION 'unknown execution %', script_tracking.shorten(pg_catalog.encode(p_execution_hk, 'hex'))
            USING ERRCODE = 'ST004';
    END IF;

    -- The lock its final version's foreign key takes anyway, taken first: a retention purge
    -- (FOR UPDATE SKIP LOCKED) passes this execution by, or has purged it already.
    SELECT h.execution_id
      INTO v_id
      FROM script_tracking.script_execution_h h
     WHERE h.script_execution_hk = p_execution_hk
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown execution %', script_tracking.shorten(pg_catalog.encode(p_execution_hk, 'hex'))
            USING ERRCODE = 'ST004';
    END IF;

    -- Its running-set row serializes completions: the completer that deletes it goes on, a
    -- second one waits for that row and then finds it gone (a serialization failure in
    -- REPEATABLE READ). No row is no proof of anything (completed already, started by the
    -- previous release's functions while an upgrade ran, or a row left by a completion
    -- that ran with them), so the final version itself is what decides: at most one
    -- (script_execution_s_one_final_uq). The insert gives way to one there is, waits for
    -- one being written, and fails with 40001 for one its snapshot cannot see
    -- (REPEATABLE READ); no subtransaction.
    DELETE FROM script_tracking.script_execution_running r WHERE r.script_execution_hk = p_execution_hk;

    v_now := pg_catalog.clock_timestamp();
    INSERT INTO script_tracking.script_execution_s
        (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
         end_time, duration, error_message, db_session_user, client_addr, application_name, details)
    VALUES (p_execution_hk, v_now, 'script_tracking.complete_operation', v_first.script_name,
            v_first.script_type, v_status, v_first.start_time, v_now, v_now - v_first.start_time,
            p_error_message, SESSION_USER, pg_catalog.inet_client_addr(),
            pg_catalog.current_setting('application_name', true), v_first.details)
    ON CONFLICT (script_execution_hk) WHERE status IN ('COMPLETED', 'FAILED') DO NOTHING;
    IF NOT FOUND THEN
        SELECT s.status
          INTO v_last
          FROM script_tracking.script_execution_s s
         WHERE s.script_execution_hk = p_execution_hk
           AND s.status IN ('COMPLETED', 'FAILED');
        RAISE EXCEPTION 'execution % is already completed (status %)',
                        script_tracking.shorten(pg_catalog.encode(p_execution_hk, 'hex')), v_last
            USING ERRCODE = 'ST005';
    END IF;

    -- util.log_audit_event's row, written directly (same owner; no nested definer call)
    INSERT INTO util.audit_log (event_type, resource_type, resource_id, actor, details)
    VALUES ('SCRIPT_EXECUTION_' || v_status, 'SCRIPT_EXECUTION', pg_catalog.encode(p_execution_hk, 'hex'), SESSION_USER,
            pg_catalog.jsonb_build_object('execution_id', v_id, 'script_name', v_first.script_name,
                                          'script_type', v_first.script_type, 'status', v_status,
                                          'duration_ms',
                                          pg_catalog.round((EXTRACT(EPOCH FROM (v_now - v_first.start_time)) * 1000)::numeric, 3),
                                          'error_message', p_error_message));
END;
$$;

COMMENT ON FUNCTION script_tracking.complete_operation(bytea, boolean, text) IS
'Finish an execution started by track_operation: inserts its COMPLETED (p_success) or FAILED version with end time '
'and duration, and writes an audit event. Concurrency-safe (its running-set row serializes completions). Only the login that started the '
'execution, or a member of its role, may complete it. '
'Errors: ST004 null or unknown hash key (also: started by another login), ST005 already completed, '
'ST006 null success flag, ST008 error message longer than the error_message_chars limit (65536).';

REVOKE ALL ON FUNCTION script_tracking.complete_operation(bytea, boolean, text) FROM PUBLIC;

CREATE FUNCTION script_tracking.get_execution_history(
    p_script_name text        DEFAULT NULL,
    p_script_type text        DEFAULT NULL,
    p_status      text        DEFAULT NULL,
    p_from        timestamptz DEFAULT NULL,
    p_to          timestamptz DEFAULT NULL,
    p_limit       integer     DEFAULT 100
) RETURNS TABLE (
    script_execution_hk bytea,
    execution_id        bigint,
    script_name         text,
    script_type         text,
    status              text,
    version_number      bigint,
    start_time          timestamptz,
    end_time            timestamptz,
    duration            interval,
    error_message       text,
    db_session_user     text,
    client_addr         inet,
    application_name    text,
    details             jsonb,
    record_source       text
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_type   text    := pg_catalog.upper(pg_catalog.btrim(p_script_type));
    v_status text    := pg_catalog.upper(pg_catalog.btrim(p_status));
    v_limit  integer := COALESCE(p_limit, 100);
    v_from   text;
    v_order  text;
    v_where  text    := '';
    v_latest text;
    v_cols   text;
    v_jwhere text    := '';
    -- a journal row's script name
    c_ddl_name CONSTANT text := '''AUTO_DDL_'' || pg_catalog.replace(pg_catalog.upper(j.command_tag), '' '', ''_'')';
    -- whether the filters can match DDL recorded in script_tracking.ddl_journal
    v_journal boolean := (v_type IS NULL OR v_type = 'DDL') AND (v_status IS NULL OR v_status = 'COMPLETED')
                         AND (p_script_name IS NULL OR pg_catalog.left(p_script_name, 9) = 'AUTO_DDL_');
BEGIN
    IF v_limit < 0 THEN
        RAISE EXCEPTION 'limit must not be negative (got %)', v_limit
            USING ERRCODE = 'ST006';
    END IF;
    IF v_type IS NOT NULL AND NOT (v_type = ANY (script_tracking.valid_script_types())) THEN
        RAISE EXCEPTION 'unknown script type %', script_tracking.shorten(p_script_type)
            USING ERRCODE = 'ST003',
                  HINT = 'valid script types: ' || pg_catalog.array_to_string(script_tracking.valid_script_types(), ', ');
    END IF;
    IF v_status IS NOT NULL AND v_status NOT IN ('RUNNING', 'COMPLETED', 'FAILED') THEN
        RAISE EXCEPTION 'unknown status %', script_tracking.shorten(p_status)
            USING ERRCODE = 'ST006',
                  HINT = 'valid statuses: RUNNING, COMPLETED, FAILED';
    END IF;

    -- Only the filters actually given go into the query, and EXECUTE plans it
    -- with the actual values: each call gets the index-driven plan for its
    -- filters (no generic plan with "param IS NULL OR ..." predicates).
    -- What is walked newest-first depends on the status (see the file's header). For
    -- FAILED and RUNNING the hub row is one index probe per row walked (LIMIT 1 keeps
    -- it a nested loop whatever the estimates); a version's start_time is its hub row's
    -- load_date, so the walk's order is the result's. The latest version of each row
    -- walked (not needed for FAILED, below):
    v_latest := ' CROSS JOIN LATERAL ( '
        '       SELECT s1.status, s1.version_number, s1.start_time, s1.end_time, s1.duration, '
        '              s1.error_message, s1.db_session_user, s1.client_addr, s1.application_name, s1.details '
        '         FROM script_tracking.script_execution_s s1 '
        '        WHERE s1.script_execution_hk = h.script_execution_hk '
        '        ORDER BY s1.version_number DESC '
        '        LIMIT 1) s ';
    IF v_status = 'FAILED' THEN
        -- The walked version is the result's when nothing follows it (complete_operation
        -- never writes after a final version; a hand-written later one still wins). That
        -- check sits inside the hub's LIMIT 1 probe: there it stays a per-row probe of the
        -- primary key's index, and the walk keeps its estimate of one result per FAILED
        -- version (so, its index order).
        v_from := ' FROM script_tracking.script_execution_s s'
                  ' CROSS JOIN LATERAL (SELECT h1.* FROM script_tracking.script_execution_h h1'
                  '       WHERE h1.script_execution_hk = s.script_execution_hk AND h1.load_date = s.start_time'
                  '         AND NOT EXISTS (SELECT FROM script_tracking.script_execution_s s2'
                  '                          WHERE s2.script_execution_hk = s.script_execution_hk'
                  '                            AND s2.version_number > s.version_number)'
                  '       LIMIT 1) h';
        v_latest := '';
        v_where := ' AND s.status = ''FAILED''';  -- a constant: the partial indexes match it
        v_order := 's.start_time DESC, h.execution_id DESC';
        IF p_script_name IS NOT NULL THEN v_where := v_where || ' AND s.script_name = $1'; END IF;
        IF v_type IS NOT NULL        THEN v_where := v_where || ' AND s.script_type = $2'; END IF;
        IF p_from IS NOT NULL        THEN v_where := v_where || ' AND s.start_time >= $4'; END IF;
        IF p_to IS NOT NULL          THEN v_where := v_where || ' AND s.start_time < $5'; END IF;
    ELSIF v_status = 'RUNNING' THEN
        v_from := ' FROM script_tracking.script_execution_running r'
                  ' CROSS JOIN LATERAL (SELECT h1.* FROM script_tracking.script_execution_h h1'
                  '       WHERE h1.script_execution_hk = r.script_execution_hk'
                  '       LIMIT 1) h';
        v_order := 'r.load_date DESC, r.execution_id DESC';
        IF p_from IS NOT NULL        THEN v_where := v_where || ' AND r.load_date >= $4'; END IF;
        IF p_to IS NOT NULL          THEN v_where := v_where || ' AND r.load_date < $5'; END IF;
    ELSE
        v_from := ' FROM script_tracking.script_execution_h h';
        v_order := 'h.load_date DESC, h.execution_id DESC';
    END IF;
    IF p_script_name IS NOT NULL THEN v_where := v_where || ' AND h.script_name = $1'; END IF;
    IF v_type IS NOT NULL        THEN v_where := v_where || ' AND h.script_type = $2'; END IF;
    IF v_status IS NOT NULL      THEN v_where := v_where || ' AND s.status = $3'; END IF;
    IF p_from IS NOT NULL        THEN v_where := v_where || ' AND h.load_date >= $4'; END IF;
    IF p_to IS NOT NULL          THEN v_where := v_where || ' AND h.load_date < $5'; END IF;

    v_cols := 'script_execution_hk, execution_id, script_name, script_type, status, version_number, start_time, '
              'end_time, duration, error_message, db_session_user, client_addr, application_name, details, record_source';
    v_from := 'SELECT h.script_execution_hk, h.execution_id, h.script_name, h.script_type, s.status, '
              '       s.version_number, s.start_time, s.end_time, s.duration, s.error_message, '
              '       s.db_session_user, s.client_addr, s.application_name, s.details, h.record_source'
        -- merged with the journal (below): by a key this walk gives in order, so no sort is needed
        || CASE WHEN v_journal THEN ', ' || pg_catalog.split_part(v_order, ' ', 1) || ' AS sort_key ' ELSE ' ' END
        || v_from || v_latest ||
        ' WHERE true' || v_where ||
        ' ORDER BY ' || v_order ||
        ' LIMIT $6';
    -- DDL recorded by the event triggers is in script_tracking.ddl_journal (every row a
    -- COMPLETED execution of type DDL named AUTO_DDL_<tag>; see 30_ddl_tracker.sql). Only
    -- filters that can match it read it, by its (executed_at, execution_id) key newest
    -- first, at most p_limit rows: the other filters walk exactly what they walked before.
    IF v_journal THEN
        IF p_script_name IS NOT NULL THEN
            -- by ddl_journal_tag_recent_idx: the tag the name is made of (command tags are
            -- upper case words between single blanks), then the name itself
            v_jwhere := v_jwhere || ' AND j.command_tag = pg_catalog.replace(pg_catalog.substr($1, 10), ''_'', '' '')'
                                 || ' AND ' || c_ddl_name || ' = $1';
        END IF;
        IF p_from IS NOT NULL THEN v_jwhere := v_jwhere || ' AND j.executed_at >= $4'; END IF;
        IF p_to IS NOT NULL   THEN v_jwhere := v_jwhere || ' AND j.executed_at < $5'; END IF;
        v_from := 'SELECT ' || v_cols || ' FROM ((' || v_from || ') UNION ALL ('
            'SELECT pg_catalog.decode(''44444c'', ''hex'') || pg_catalog.int8send(j.execution_id), j.execution_id, '
            || c_ddl_name || ', ''DDL''::text, '
            '       ''COMPLETED''::text, j.version_number, j.executed_at, j.end_time, j.end_time - j.executed_at, '
            '       NULL::text, j.db_session_user, j.client_addr, j.application_name, '
            '       CASE j.event WHEN ''sql_drop'' THEN pg_catalog.jsonb_build_object('
            '           ''event'', j.event, ''command_tag'', j.command_tag, ''object_type'', j.object_type, '
            '           ''object_identity'', j.object_identity, ''schema_name'', j.schema_name, '
            '           ''is_temporary'', j.is_temporary, ''cascaded'', j.cascaded, ''statement'', j.statement) '
            '       ELSE pg_catalog.jsonb_build_object('
            '           ''event'', j.event, ''command_tag'', j.command_tag, ''object_type'', j.object_type, '
            '           ''object_identity'', j.object_identity, ''schema_name'', j.schema_name, '
            '           ''in_extension'', j.in_extension, ''statement'', j.statement) END, '
            '       ''event_trigger:'' || j.event, j.executed_at '
            '  FROM script_tracking.ddl_journal j '
            ' WHERE true' || v_jwhere ||
            ' ORDER BY j.executed_at DESC, j.execution_id DESC '
            ' LIMIT $6)) u '
            ' ORDER BY u.sort_key DESC, u.execution_id DESC '
            ' LIMIT $6';
    END IF;

    RETURN QUERY EXECUTE v_from
        USING p_script_name, v_type, v_status, p_from, p_to, v_limit;
END;
$$;

COMMENT ON FUNCTION script_tracking.get_execution_history(text, text, text, timestamptz, timestamptz, integer) IS
'The latest version of each execution, newest first (by start time), optionally filtered by script name, '
'script type, status (of the latest version), start time range [p_from, p_to) and limited to p_limit rows '
'(NULL = 100). Index-driven top-N whatever the filters: over the hub, the FAILED versions or the running set, '
'latest satellite version per execution via LATERAL. '
'Errors: ST003 unknown script type, ST006 unknown status or negative limit.';

REVOKE ALL ON FUNCTION script_tracking.get_execution_history(text, text, text, timestamptz, timestamptz, integer) FROM PUBLIC;

CREATE FUNCTION script_tracking.purge_executions(
    p_older_than interval DEFAULT NULL,
    p_batch_size integer  DEFAULT 1000
) RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
DECLARE
    v_age    interval := p_older_than;
    v_before timestamptz;
    v_hks    bytea[];
    v_keys   text[];
    v_ids    numeric[];
    v_ddl    integer;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'batch size must be 1 to 100000 (got %)', COALESCE(p_batch_size::text, 'NULL')
            USING ERRCODE = 'ST006';
    END IF;
    IF v_age IS NULL THEN
        SELECT pg_catalog.make_interval(days => l.retention_days)
          INTO v_age
          FROM script_tracking.tracking_limits l;
        IF v_age IS NULL THEN
            RETURN 0;  -- no retention configured: nothing to do
        END IF;
    END IF;
    IF v_age <= interval '0' THEN
        RAISE EXCEPTION 'age must be positive (got %)', v_age
            USING ERRCODE = 'ST006';
    END IF;
    BEGIN
        v_before := pg_catalog.now() - v_age;
    EXCEPTION WHEN datetime_field_overflow THEN
        RETURN 0;  -- older than the earliest timestamp: nothing is
    END;

    -- One batch: the oldest executions (the hub's recent index, backwards). Rows another
    -- session holds (a complete_operation under way) are skipped, never waited for; the
    -- ones taken are locked until this transaction ends, which one batch keeps short.
    SELECT pg_catalog.array_agg(v.script_execution_hk),
           pg_catalog.array_agg(pg_catalog.encode(v.script_execution_hk, 'hex')),
           pg_catalog.array_agg(v.execution_id::numeric)
      INTO v_hks, v_keys, v_ids
      FROM (SELECT h.script_execution_hk, h.execution_id
              FROM script_tracking.script_execution_h h
             WHERE h.load_date < v_before
             ORDER BY h.load_date, h.execution_id
             LIMIT p_batch_size
               FOR UPDATE SKIP LOCKED) v;
    -- DDL journal rows as old, in what the batch has left (they have no other rows)
    DELETE FROM script_tracking.ddl_journal j
     WHERE (j.executed_at, j.execution_id) IN
           (SELECT o.executed_at, o.execution_id
              FROM script_tracking.ddl_journal o
             WHERE o.executed_at < v_before
             ORDER BY o.executed_at, o.execution_id
             LIMIT p_batch_size - COALESCE(pg_catalog.cardinality(v_hks), 0)
               FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_ddl = ROW_COUNT;
    IF v_hks IS NULL AND v_ddl = 0 THEN
        RETURN 0;
    END IF;

    -- their audit rows through util.audit_log_execution_idx (its predicate repeated)
    DELETE FROM util.audit_log a
     WHERE a.resource_type = 'SCRIPT_EXECUTION'
       AND pg_catalog.jsonb_typeof(a.details -> 'execution_id') = 'number'
       AND ((a.details ->> 'execution_id')::numeric) = ANY (v_ids)
       AND a.resource_id = ANY (v_keys);
    DELETE FROM script_tracking.script_execution_s s WHERE s.script_execution_hk = ANY (v_hks);
    DELETE FROM script_tracking.script_execution_running r WHERE r.script_execution_hk = ANY (v_hks);
    DELETE FROM script_tracking.script_execution_h h WHERE h.script_execution_hk = ANY (v_hks);

    -- the purge itself stays on record
    PERFORM util.log_audit_event(
        'EXECUTIONS_PURGED'::text,
        'RETENTION'::text,
        NULL::text,
        SESSION_USER::text,
        pg_catalog.jsonb_build_object('executions', COALESCE(pg_catalog.cardinality(v_hks), 0) + v_ddl,
                                      'started_before', v_before)::jsonb);
    RETURN COALESCE(pg_catalog.cardinality(v_hks), 0) + v_ddl;
END;
$$;

COMMENT ON FUNCTION script_tracking.purge_executions(interval, integer) IS
'Retention: deletes one batch (at most p_batch_size, default 1000) of the oldest executions started more than '
'p_older_than ago (NULL = the retention_days row of script_tracking.tracking_limit; no row = retention off, '
'returns 0): their hub row, satellite versions, running-set row and util.audit_log rows, or their '
'script_tracking.ddl_journal row, and records an '
'EXECUTIONS_PURGED audit event. Returns how many executions it purged; call it again (each call its own '
'transaction) until it returns 0. Skips rows other sessions hold, waits at most 1 s for a table lock. '
'Errors: ST006 age not positive or batch size outside 1..100000.';

REVOKE ALL ON FUNCTION script_tracking.purge_executions(interval, integer) FROM PUBLIC;

CREATE FUNCTION script_tracking.rebuild_running_set()
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_added integer;
BEGIN
    -- No lock against tracking: a row of an execution completed meanwhile is harmless
    -- (the history checks each execution's latest version) and goes at its purge.
    INSERT INTO script_tracking.script_execution_running (script_execution_hk, load_date, execution_id)
    SELECT d.script_execution_hk, d.load_date, d.execution_id
      FROM script_tracking.script_execution_running_derived d
    ON CONFLICT (script_execution_hk) DO NOTHING;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    DELETE FROM script_tracking.script_execution_running r
     WHERE NOT EXISTS (SELECT 1 FROM script_tracking.script_execution_running_derived d
                        WHERE d.script_execution_hk = r.script_execution_hk);
    RETURN v_added;
END;
$$;

COMMENT ON FUNCTION script_tracking.rebuild_running_set() IS
'Makes script_tracking.script_execution_running hold exactly the executions not completed (no final version); '
'returns how many rows it added. The set is filled when it is created, an upgrade''s too; this repairs it, for '
'executions that the previous release''s functions started while the upgrade ran, or rows deleted by hand. Reads '
'the whole hub and the final versions'' index; takes no lock that stops tracking.';

REVOKE ALL ON FUNCTION script_tracking.rebuild_running_set() FROM PUBLIC;

CREATE FUNCTION public.track_operation(
    p_script_name text,
    p_script_type text,
    p_details     jsonb DEFAULT '{}'::jsonb
) RETURNS bytea
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT script_tracking.track_operation(p_script_name, p_script_type, p_details)
$$;

COMMENT ON FUNCTION public.track_operation(text, text, jsonb) IS
'Unqualified wrapper of script_tracking.track_operation (same arguments, result and errors).';

REVOKE ALL ON FUNCTION public.track_operation(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION public.complete_operation(
    p_execution_hk  bytea,
    p_success       boolean,
    p_error_message text DEFAULT NULL
) RETURNS void
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT script_tracking.complete_operation(p_execution_hk, p_success, p_error_message)
$$;

COMMENT ON FUNCTION public.complete_operation(bytea, boolean, text) IS
'Unqualified wrapper of script_tracking.complete_operation (same arguments and errors).';

REVOKE ALL ON FUNCTION public.complete_operation(bytea, boolean, text) FROM PUBLIC;
