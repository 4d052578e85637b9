"""update: functions are replaced in place (CREATE OR REPLACE keeps the oid, the
grants and the data); tables migrate additively and keep their rows; changes
that can lose data are refused with PlanError at diff (preview) and at update,
with the database untouched."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from script_tracking import catalog
from script_tracking.plan import PlanError

from .support import CATALOG_OPTIONS, Stack, changed_body, table_variant, with_statements

TRACK = "script_tracking.track_operation(text, text, jsonb)"
AUDIT = "util.audit_log"


def _db(stack: Stack, pg) -> psycopg.Connection:
    return psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True)


def _counts(c: psycopg.Connection) -> tuple[int, int, int]:
    return c.execute("SELECT (SELECT count(*) FROM script_tracking.script_execution_h), "
                     "(SELECT count(*) FROM script_tracking.script_execution_s), "
                     "(SELECT count(*) FROM util.audit_log)").fetchone()


def _live(stack: Stack, obj) -> dict:
    with psycopg.connect(**_kw(stack)) as c:
        return catalog.recorded(obj.kind, catalog.inspect(c, obj.kind, obj.identity, list(obj.statements)))


def _kw(stack: Stack) -> dict:
    k = stack.conn
    return dict(host=k["host"], port=k["port"], dbname=k["database"], user=k["username"],
                password=k["password"], autocommit=True, options=CATALOG_OPTIONS)


def test_function_body_change_is_replaced_in_place(stack: Stack, pg):
    grant = f"writer: EXECUTE on function {TRACK}"
    writer = stack.role("writer")
    stack.install([TRACK, grant])
    fn = stack.obj(TRACK)
    with _db(stack, pg) as c:
        oid = c.execute("SELECT %s::regprocedure::oid", (TRACK,)).fetchone()[0]
        for name in ("a.sql", "b.sql"):
            c.execute("SELECT script_tracking.track_operation(%s, 'MIGRATION')", (name,))
        before = _counts(c)
    assert before == (2, 2, 2)

    news = with_statements(fn, [changed_body(fn.statements[0]), *fn.statements[1:]])
    d = stack.diff(fn, news=news)
    assert d.changes and d.replaces == []
    outs = stack.update(fn, news)

    with _db(stack, pg) as c:
        assert c.execute("SELECT %s::regprocedure::oid", (TRACK,)).fetchone()[0] == oid, "not dropped"
        assert "PERFORM 1;" in c.execute("SELECT pg_get_functiondef(%s::regprocedure)", (TRACK,)).fetchone()[0]
        assert _counts(c) == before, "tracked rows are still there"
        assert c.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (writer, TRACK)).fetchone()[0]
        assert c.execute("SELECT obj_description(%s::regprocedure, 'pg_proc')", (TRACK,)).fetchone()[0]
        c.execute("SELECT script_tracking.track_operation('c.sql', 'ADHOC')")  # still works
    assert outs["applied"] == outs["fingerprint"] == _live(stack, fn)
    assert stack.diff(fn, news=news).changes is False
    assert stack.read(news).outs["fingerprint"] == outs["applied"]


def _audit_rows(stack: Stack, pg, n: int = 3) -> None:
    with _db(stack, pg) as c:
        for i in range(n):
            c.execute("SELECT util.log_audit_event('E', 'R', %s, NULL, NULL)", (f"id-{i}",))


def _table_state(stack: Stack, pg, identity: str = AUDIT):
    with _db(stack, pg) as c:
        rows = c.execute(sql.SQL("SELECT to_jsonb(t) FROM {} t ORDER BY 1::text").format(
            sql.Identifier(*identity.split(".")))).fetchall()
        oid = c.execute("SELECT %s::regclass::oid", (identity,)).fetchone()[0]
    return _live(stack, stack.obj(identity)), sorted(map(str, rows)), oid


def test_adding_a_nullable_column_migrates_in_place_and_keeps_rows(stack: Stack, pg):
    stack.install([AUDIT, "util.log_audit_event(text, text, text, text, jsonb)"])
    _audit_rows(stack, pg)
    table = stack.obj(AUDIT)
    _, rows0, oid0 = _table_state(stack, pg)
    news = with_statements(table, [table_variant(table.statements[0], add=["note text"]),
                                   *table.statements[1:]])
    d = stack.diff(table, news=news)
    assert d.changes and d.replaces == []
    outs = stack.update(table, news)
    live, rows, oid = _table_state(stack, pg)
    assert oid == oid0
    assert "note" in [c[0] for c in live["columns"]]
    assert len(rows) == len(rows0) == 3
    with _db(stack, pg) as c:
        assert c.execute("SELECT count(*) FROM util.audit_log WHERE note IS NULL AND resource_id LIKE 'id-%'"
                         ).fetchone()[0] == 3
        c.execute("SELECT util.log_audit_event('E', 'R', 'after', NULL, NULL)")  # the function still fits
    assert outs["applied"] == outs["fingerprint"] == live
    assert stack.read(news).outs["fingerprint"] == outs["applied"]
    assert stack.diff(news).changes is False


@pytest.mark.parametrize("change, message", [
    (dict(drop=["resource_id"]), "refusing to drop column util.audit_log.resource_id: it holds data"),
    (dict(retype={"resource_id": "integer"}), "column util.audit_log.resource_id would change"),
    (dict(retype={"actor": "varchar(20)"}), "column util.audit_log.actor would change"),
], ids=["drop-column-with-data", "change-type", "change-type-typmod"])
def test_destructive_table_change_is_refused_at_diff_and_update(stack: Stack, pg, change, message):
    stack.install([AUDIT, "util.log_audit_event(text, text, text, text, jsonb)"])
    _audit_rows(stack, pg)
    table = stack.obj(AUDIT)
    state0 = _table_state(stack, pg)
    news = with_statements(table, [table_variant(table.statements[0], **change), *table.statements[1:]])
    with pytest.raises(PlanError) as at_diff:
        stack.diff(table, news=news)
    assert message in str(at_diff.value) and "\n" not in str(at_diff.value)
    with pytest.raises(PlanError) as at_update:
        stack.update(table, news)
    assert message in str(at_update.value)
    assert _table_state(stack, pg) == state0, "catalog and rows untouched"


def test_dropping_an_empty_column_is_allowed(stack: Stack, pg):
    stack.install([AUDIT])
    table = stack.obj(AUDIT)
    with _db(stack, pg) as c:
        c.execute("INSERT INTO util.audit_log (event_type, resource_type) VALUES ('E', 'R')")
    news = with_statements(table, [table_variant(table.statements[0], drop=["resource_id"]),
                                   *table.statements[1:]])
    assert stack.diff(table, news=news).changes
    outs = stack.update(table, news)
    assert "resource_id" not in [c[0] for c in outs["applied"]["columns"]]
    with _db(stack, pg) as c:
        assert c.execute("SELECT count(*) FROM util.audit_log").fetchone()[0] == 1


def test_changing_a_sequence_is_refused_and_leaves_it_alone(stack: Stack, pg):
    seq = "script_tracking.script_execution_id_seq"
    stack.install([seq])
    obj = stack.obj(seq)
    with _db(stack, pg) as c:
        c.execute("SELECT nextval(%s)", (seq,))
    news = with_statements(obj, [obj.statements[0] + " INCREMENT BY 10", *obj.statements[1:]])
    with pytest.raises(PlanError, match="sequence .* differs .*changing a sequence in place"):
        stack.update(obj, news)
    assert _live(stack, obj) == stack.outs[("sequence", seq)]["applied"]
    with _db(stack, pg) as c:
        assert c.execute("SELECT last_value FROM script_tracking.script_execution_id_seq").fetchone()[0] == 1


def test_index_change_is_rebuilt(stack: Stack, pg):
    idx = "script_tracking.script_execution_h_type_recent_idx"
    stack.install([idx])
    obj = stack.obj(idx)
    news = with_statements(obj, [obj.statements[0].replace("(script_type, load_date DESC, execution_id DESC)",
                                                           "(script_type, load_date DESC)")])
    assert news.statements != obj.statements
    assert stack.diff(obj, news=news).changes
    outs = stack.update(obj, news)
    assert "(script_type, load_date DESC)" in outs["applied"]["definition"]


def test_filter_rows_follow_the_settings(stack: Stack, pg):
    from script_tracking.desired import Settings, desired_objects
    data = next(o for o in stack.objects if o.kind == "data")
    stack.install([data.identity])  # the table and its schema
    stack.create(data)
    assert stack.outs[("data", data.identity)]["applied"] == catalog.recorded("data", {"rows": []})
    s = Settings(ddl_exclude_schemas=("scratch",), ddl_include_tags=("CREATE TABLE",))
    news = next(o for o in desired_objects(s) if o.kind == "data")
    assert stack.diff(data, news=news).changes
    outs = stack.update(data, news)
    assert sorted((r["kind"], r["value"]) for r in outs["applied"]["rows"]) == [
        ("exclude_schema", "scratch"), ("include_tag", "CREATE TABLE")]
    back = stack.update(news, data)
    assert back["applied"] == catalog.recorded("data", {"rows": []})


def test_size_limits_follow_the_settings(stack: Stack, pg):
    from script_tracking.desired import LIMIT_TABLE, Settings, desired_objects
    stack.install([TRACK])
    data = stack.obj(LIMIT_TABLE, kind="data")
    stack.create(data)
    limited = next(o for o in desired_objects(Settings(max_details_bytes=50, max_script_name_chars=10))
                   if o.kind == "data" and o.identity == LIMIT_TABLE)
    assert stack.diff(data, news=limited).changes
    stack.update(data, limited)
    with _db(stack, pg) as c:
        c.execute("SELECT script_tracking.track_operation('ten chars!', 'ADHOC')")
        with pytest.raises(psycopg.Error) as exc:
            c.execute("SELECT script_tracking.track_operation('eleven chars', 'ADHOC')")
        assert exc.value.diag.sqlstate == "ST002"
        with pytest.raises(psycopg.Error) as exc:
            c.execute("SELECT script_tracking.track_operation('x', 'ADHOC', jsonb_build_object('k', repeat('y', 50)))")
        assert exc.value.diag.sqlstate == "ST007"
    stack.update(limited, data)  # back to the defaults
    with _db(stack, pg) as c:
        c.execute("SELECT script_tracking.track_operation('eleven chars', 'ADHOC')")


def test_retention_days_follow_the_settings(stack: Stack, pg):
    from script_tracking.desired import LIMIT_TABLE, Settings, desired_objects
    # (the purge deletes old DDL journal rows too: a table of a later file, so not found as a dependency)
    stack.install([TRACK, "script_tracking.purge_executions(interval, integer)", "script_tracking.ddl_journal"])
    data = stack.obj(LIMIT_TABLE, kind="data")
    stack.create(data)
    kept = next(o for o in desired_objects(Settings(retention_days=7))
                if o.kind == "data" and o.identity == LIMIT_TABLE)
    assert stack.diff(data, news=kept).changes
    # in the plan's words: JSON, the number as it was (not a double's repr)
    plan = stack.provider.check(stack.outs[(data.kind, data.identity)], stack.inputs(kept)).inputs["plan"]
    assert list(plan.values())[0]["why"] == ['rows: [] -> [{"name": "retention_days", "value": 7}]'], plan
    stack.update(data, kept)
    with _db(stack, pg) as c:
        hk = c.execute("SELECT script_tracking.track_operation('old', 'ADHOC')").fetchone()[0]
        c.execute("UPDATE script_tracking.script_execution_h SET load_date = load_date - interval '8 days'"
                  " WHERE script_execution_hk = %s", (hk,))
        assert c.execute("SELECT script_tracking.purge_executions()").fetchone()[0] == 1
    stack.update(kept, data)  # off again
    with _db(stack, pg) as c:
        c.execute("SELECT script_tracking.track_operation('old', 'ADHOC')")
        c.execute("UPDATE script_tracking.script_execution_h SET load_date = load_date - interval '8 days'")
        assert c.execute("SELECT script_tracking.purge_executions()").fetchone()[0] == 0
