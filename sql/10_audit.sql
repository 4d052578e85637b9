-- Audit log of the script tracking system (schema util).
-- Declarative: one object per statement, everything schema-qualified.

CREATE TABLE util.audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT audit_log_pk PRIMARY KEY,
    event_time    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    event_type    text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text,
    actor         text        NOT NULL DEFAULT SESSION_USER,
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    txid          bigint      NOT NULL DEFAULT pg_catalog.txid_current()
);

COMMENT ON TABLE util.audit_log IS
'Append-only audit trail of the script tracking system: one row per tracking call '
'(track_operation, complete_operation) and per direct util.log_audit_event call. '
'Columns: event_time (clock time of the event), event_type (e.g. SCRIPT_EXECUTION_STARTED), '
'resource_type (e.g. SCRIPT_EXECUTION), resource_id (hex hash key of the execution), '
'actor (login role), details (jsonb), txid (transaction id). Written by util.log_audit_event, and by the '
'tracking functions directly (the same row util.log_audit_event would write).';

CREATE INDEX audit_log_event_time_idx ON util.audit_log (event_time);

-- The audit rows of an execution, by its execution_id (in details): what the retention purge
-- deletes them by. Ids grow, so inserts go to the index's right edge (no random page per
-- row, unlike an index on the random hex hash key), and a key is a few bytes. Only rows of
-- the tracking functions' shape: the expression is computed for those alone.
CREATE INDEX audit_log_execution_idx
    ON util.audit_log (((details ->> 'execution_id')::numeric))
    WHERE resource_type = 'SCRIPT_EXECUTION' AND pg_catalog.jsonb_typeof(details -> 'execution_id') = 'number';

REVOKE ALL ON TABLE util.audit_log FROM PUBLIC;

CREATE FUNCTION util.log_audit_event(
    p_event_type    text,
    p_resource_type text,
    p_resource_id   text,
    p_actor         text,
    p_details       jsonb
) RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_event_type IS NULL OR p_event_type ~ '^[[:space:]]*$' THEN  -- blank: white space only
        RAISE EXCEPTION 'audit event type must not be null or empty'
            USING ERRCODE = 'ST006';
    END IF;
    IF p_resource_type IS NULL OR p_resource_type ~ '^[[:space:]]*$' THEN
        RAISE EXCEPTION 'audit resource type must not be null or empty'
            USING ERRCODE = 'ST006';
    END IF;
    INSERT INTO util.audit_log (event_type, resource_type, resource_id, actor, details)
    VALUES (p_event_type,
            p_resource_type,
            p_resource_id,
            COALESCE(NULLIF(p_actor, ''), SESSION_USER::text),
            COALESCE(p_details, '{}'::jsonb))
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;

COMMENT ON FUNCTION util.log_audit_event(text, text, text, text, jsonb) IS
'Append one event to util.audit_log and return its id. Arguments: event type, resource type, '
'resource id, actor (NULL or empty = session user), details (NULL = {}). '
'Errors: ST006 when the event type or resource type is null or empty.';

REVOKE ALL ON FUNCTION util.log_audit_event(text, text, text, text, jsonb) FROM PUBLIC;
