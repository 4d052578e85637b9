"""Drift: changes made by hand are found by read (refresh) and repaired by the
next update; objects dropped by hand read as gone so that up re-creates them."""

from __future__ import annotations

import psycopg
from psycopg import sql
import pytest

from script_tracking import catalog

from .support import Stack, key

TRACK = "script_tracking.track_operation(text, text, jsonb)"
WRAPPER = "public.complete_operation(bytea, boolean, text)"
AUDIT = "util.audit_log"


def _sql(stack: Stack, pg, *statements: str) -> None:
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        for s in statements:
            c.execute(s)


def _grant(stack: Stack, fn: str) -> str:
    return f"writer: EXECUTE on function {fn}"


@pytest.mark.parametrize("identity, drop", [
    (WRAPPER, "DROP FUNCTION public.complete_operation(bytea, boolean, text)"),
    ("util.audit_log_event_time_idx", "DROP INDEX util.audit_log_event_time_idx"),
    ("script_tracking.ddl_history", "DROP VIEW script_tracking.ddl_history"),
    ("auto_ddl_tracker", "DROP EVENT TRIGGER auto_ddl_tracker"),
    ("script_tracking.script_execution_id_seq", "DROP SEQUENCE script_tracking.script_execution_id_seq"),
    ("grant", "REVOKE EXECUTE ON FUNCTION public.complete_operation(bytea, boolean, text) FROM {role}"),
])
def test_dropped_by_hand_reads_as_gone_and_create_brings_it_back(stack: Stack, pg, identity, drop):
    if identity == "grant":
        identity = _grant(stack, WRAPPER)
    stack.install([identity])
    obj = stack.obj(identity)
    role = stack.role("writer")
    _sql(stack, pg, drop.format(role=role))
    r = stack.read(obj)
    assert r.id is None and r.outs == {}
    # refresh removed it from the state; up creates it again
    outs = stack.create(obj)
    assert outs["applied"] is not None
    assert stack.read(obj).id == obj.identity


def _assert_drift_repaired(stack: Stack, obj) -> dict:
    """read finds drift, diff against the refreshed state reports it, update
    repairs it: the fingerprint is the applied one again."""
    applied = stack.outs[key(obj)]["applied"]
    refreshed = stack.read(obj)
    assert refreshed.id == obj.identity
    assert refreshed.outs["fingerprint"] != applied, "drift not detected"
    assert refreshed.outs["applied"] == applied
    d = stack.diff(obj, olds=refreshed.outs)
    assert d.changes is True and d.replaces == []
    outs = stack.update(obj, obj, olds=refreshed.outs)
    assert outs["fingerprint"] == outs["applied"] == applied, "not repaired"
    assert stack.read(obj).outs["fingerprint"] == applied
    return outs


def test_function_replaced_by_hand_is_repaired(stack: Stack, pg):
    stack.install([TRACK])
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        original = c.execute("SELECT pg_get_functiondef(%s::regprocedure)", (TRACK,)).fetchone()[0]
        c.execute("CREATE OR REPLACE FUNCTION script_tracking.track_operation("
                  "p_script_name text, p_script_type text, p_details jsonb DEFAULT '{}'::jsonb) "
                  "RETURNS bytea LANGUAGE sql AS $$ SELECT NULL::bytea $$")
    _assert_drift_repaired(stack, stack.obj(TRACK))
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        assert c.execute("SELECT pg_get_functiondef(%s::regprocedure)", (TRACK,)).fetchone()[0] == original


@pytest.mark.parametrize("change", [
    "COMMENT ON FUNCTION public.complete_operation(bytea, boolean, text) IS 'edited by hand'",
    "GRANT EXECUTE ON FUNCTION public.complete_operation(bytea, boolean, text) TO PUBLIC",
    "ALTER FUNCTION public.complete_operation(bytea, boolean, text) SECURITY INVOKER",
], ids=["comment", "grant-to-public", "security-invoker"])
def test_function_attributes_changed_by_hand_are_repaired(stack: Stack, pg, change):
    stack.install([WRAPPER])
    _sql(stack, pg, change)
    _assert_drift_repaired(stack, stack.obj(WRAPPER))


def test_column_added_by_hand_is_repaired(stack: Stack, pg):
    stack.install([AUDIT])
    _sql(stack, pg, "INSERT INTO util.audit_log (event_type, resource_type) VALUES ('E', 'R')",
         "ALTER TABLE util.audit_log ADD COLUMN by_hand text")
    _assert_drift_repaired(stack, stack.obj(AUDIT))
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM util.audit_log").fetchone()[0] == 1


def test_comment_changed_by_hand_is_repaired_without_running_the_fill(stack: Stack, pg):
    """The running set's INSERT (its fill) runs when the table is created, never on a repair."""
    running = stack.obj("script_tracking.script_execution_running")
    stack.install([running.identity])
    _sql(stack, pg, "INSERT INTO script_tracking.script_execution_h VALUES "
                    "('\\x00', 'x#1', 1, 'x', 'DEPLOYMENT', now(), 'by hand')",  # not completed: the fill's
         "COMMENT ON TABLE script_tracking.script_execution_running IS 'by hand'")
    _assert_drift_repaired(stack, running)
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM script_tracking.script_execution_running_derived").fetchone()[0] == 1
        assert c.execute("SELECT count(*) FROM script_tracking.script_execution_running").fetchone()[0] == 0


def _assert_refused(stack: Stack, obj, olds: dict, match: str) -> None:
    """Refused at preview (diff) and at apply (update) alike."""
    from script_tracking.plan import PlanError
    with pytest.raises(PlanError, match=match):
        stack.diff(obj, olds=olds)
    with pytest.raises(PlanError, match=match):
        stack.update(obj, obj, olds=olds)


def test_column_added_by_hand_that_holds_data_is_not_dropped(stack: Stack, pg):
    stack.install([AUDIT])
    _sql(stack, pg, "ALTER TABLE util.audit_log ADD COLUMN by_hand text",
         "INSERT INTO util.audit_log (event_type, resource_type, by_hand) VALUES ('E', 'R', 'keep me')")
    obj = stack.obj(AUDIT)
    _assert_refused(stack, obj, stack.read(obj).outs, "refusing to drop column util.audit_log.by_hand")
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        assert c.execute("SELECT by_hand FROM util.audit_log").fetchall() == [("keep me",)]


def test_constraint_dropped_by_hand_is_repaired(stack: Stack, pg):
    h = "script_tracking.script_execution_h"
    stack.install([h])
    _sql(stack, pg, "ALTER TABLE script_tracking.script_execution_h DROP CONSTRAINT script_execution_h_name_ck")
    _assert_drift_repaired(stack, stack.obj(h))


@pytest.mark.parametrize("change", [
    "ALTER TABLE util.audit_log ALTER COLUMN resource_id TYPE varchar(100)",
    "ALTER TABLE util.audit_log ALTER COLUMN event_type DROP NOT NULL",
    "ALTER TABLE util.audit_log ALTER COLUMN details DROP DEFAULT",
], ids=["type", "not-null", "default"])
def test_column_changed_by_hand_is_repaired_or_refused(stack: Stack, pg, change):
    """A column changed in place by hand: the next update must either put it back
    or refuse; it must never record the hand-made state as what was applied."""
    from script_tracking.plan import PlanError
    stack.install([AUDIT])
    obj = stack.obj(AUDIT)
    applied = stack.outs[key(obj)]["applied"]
    _sql(stack, pg, change)
    refreshed = stack.read(obj)
    assert refreshed.outs["fingerprint"] != applied
    try:
        assert stack.diff(obj, olds=refreshed.outs).changes
    except PlanError:  # refused at preview: then apply must refuse too
        with pytest.raises(PlanError):
            stack.update(obj, obj, olds=refreshed.outs)
        return
    outs = stack.update(obj, obj, olds=refreshed.outs)
    assert outs["applied"] == applied, (
        "update accepted the hand-made column as applied: "
        f"{[c for c in outs['applied']['columns'] if c not in applied['columns']]}")


def test_event_trigger_disabled_by_hand_is_re_enabled(stack: Stack, pg):
    stack.install(["auto_ddl_tracker"])
    _sql(stack, pg, "ALTER EVENT TRIGGER auto_ddl_tracker DISABLE")
    obj = stack.obj("auto_ddl_tracker")
    refreshed = stack.read(obj)
    assert refreshed.outs["fingerprint"]["enabled"] == "D"
    # said in words, and only switched back on (not dropped and made again)
    plan = stack.provider.check(refreshed.outs, stack.inputs(obj)).inputs["plan"]
    assert plan == {"auto_ddl_tracker": {"action": "alter", "why": ["enabled: disabled -> enabled"],
                                         "steps": ['ALTER EVENT TRIGGER "auto_ddl_tracker" ENABLE']}}
    outs = _assert_drift_repaired(stack, obj)
    assert outs["applied"]["enabled"] == "O"
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        assert c.execute("SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'auto_ddl_tracker'"
                         ).fetchone()[0] == "O"


def test_schema_privileges_granted_to_public_by_hand_are_revoked(stack: Stack, pg):
    stack.install(["util"])
    _sql(stack, pg, "GRANT CREATE ON SCHEMA util TO PUBLIC")
    _assert_drift_repaired(stack, stack.obj("util"))


def test_role_attributes_changed_by_hand_are_restored(stack: Stack, pg):
    role = next(o.identity for o in stack.objects if o.kind == "role")
    stack.install([role])
    _sql(stack, pg, sql.SQL("ALTER ROLE {} LOGIN CREATEDB").format(sql.Identifier(role)))
    _assert_drift_repaired(stack, stack.obj(role))


def test_constraint_redefined_by_hand_is_restored(stack: Stack, pg):
    h = "script_tracking.script_execution_h"
    stack.install([h])
    _sql(stack, pg, "ALTER TABLE script_tracking.script_execution_h DROP CONSTRAINT script_execution_h_type_ck",
         "ALTER TABLE script_tracking.script_execution_h ADD CONSTRAINT script_execution_h_type_ck CHECK (true)")
    _assert_drift_repaired(stack, stack.obj(h))


def test_sequence_changed_by_hand_is_refused(stack: Stack, pg):
    seq = "script_tracking.script_execution_version_seq"
    stack.install([seq])
    _sql(stack, pg, "ALTER SEQUENCE script_tracking.script_execution_version_seq INCREMENT 1000")
    obj = stack.obj(seq)
    _assert_refused(stack, obj, stack.read(obj).outs, "changing a sequence in place can reuse numbers")


def test_grants_of_other_resources_are_not_drift(stack: Stack, pg):
    """The writer's EXECUTE grant is a resource of its own: creating it must not
    make the function (or the schema) read as drifted."""
    grant = _grant(stack, TRACK)
    stack.install([grant])
    for identity in (TRACK, "script_tracking"):
        obj = stack.obj(identity)
        assert stack.read(obj).outs["fingerprint"] == stack.outs[key(obj)]["applied"], identity


def test_fingerprints_an_earlier_release_recorded_read_as_this_ones(stack: Stack, pg):
    """Release 0.2 recorded a function's whole definition and a schema's owner; this one
    keeps a digest and no owner: the same live object is no drift, a changed one is."""
    fn = "script_tracking.valid_script_types()"
    stack.install([fn])
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        live = catalog.inspect(c, "function", fn, list(stack.obj(fn).statements))
        text = c.execute("SELECT pg_get_functiondef(%s::regprocedure)", (fn,)).fetchone()[0]
        schema = catalog.inspect(c, "schema", "script_tracking", [])
    recorded = {k: v for k, v in live.items() if k != "definition_md5"}
    assert not catalog.drifted("function", live, {**recorded, "definition": text})
    assert catalog.drifted("function", live, {**recorded, "definition": text.replace("ADHOC", "AD HOC")})
    assert not catalog.drifted("schema", schema, {**schema, "owner": "postgres"})


def test_keys_an_earlier_release_did_not_record_are_no_drift():
    """A table or view recorded before comments (and view columns) were read: its live
    comment is no drift, while a comment changed since a record of this release is."""
    table = {"public": [], "comment": "Tracking table", "columns": [["a", "integer", True, None]], "constraints": []}
    assert not catalog.drifted("table", table, {k: v for k, v in table.items() if k != "comment"})
    view = {"public": [], "comment": "c", "columns": [["a", "integer"]], "definition": "SELECT 1"}
    assert not catalog.drifted("view", view, {"public": [], "definition": "SELECT 1"})
    assert catalog.drifted("table", table, catalog.recorded("table", {**table, "comment": "another"}))
    assert not catalog.drifted("table", table, catalog.recorded("table", table))
