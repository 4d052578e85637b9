"""The real objects of sql/ through the provider: create in desired order into a
fresh database (schemas, roles and grants included), read, diff and delete, the
way the engine calls them. The read-only checks share one install (`installed`)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from script_tracking import catalog
from script_tracking.desired import desired_objects
from script_tracking.sqlsource import OBJECT_FILES, SQL_DIR, TRIGGER_FILES, load_objects

from .support import CATALOG_OPTIONS, Stack, add_comments, changed_body, flip_case, key, reformatted, respace, rewrite


def test_create_returns_the_catalog_fingerprint_of_every_object(installed: Stack):
    assert len(installed.outs) == len(installed.objects)
    for o in installed.objects:
        outs = installed.outs[key(o)]
        assert outs["applied"] is not None, o.identity
        assert outs["fingerprint"] == outs["applied"], o.identity
        assert outs["statements"] == list(o.statements) and outs["connection"] == installed.conn


def test_the_install_is_the_one_psql_makes(installed: Stack, installed_db, pg):
    """Every object of sql/ looks the same in the catalog whether psql -f
    sql/install.sql or the provider created it."""
    with psycopg.connect(pg.dsn(installed_db), autocommit=True, options=CATALOG_OPTIONS) as c:
        for o in load_objects(OBJECT_FILES + TRIGGER_FILES):
            by_psql = catalog.inspect(c, o.kind, o.identity, list(o.statements))
            assert by_psql is not None, f"{o.identity} is not what psql creates"
            assert installed.outs[key(o)]["applied"] == catalog.recorded(o.kind, by_psql), o.identity


def test_sql_declares_every_object_psql_installs(installed_db, pg):
    """Nothing in sql/ escapes identification: what install.sql creates in our
    schemas (and the public wrappers, the event triggers) is exactly the objects."""
    ids = {o.identity for o in load_objects(OBJECT_FILES + TRIGGER_FILES)}
    with psycopg.connect(pg.dsn(installed_db), autocommit=True) as c:
        rels = {r for (r,) in c.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('util', 'script_tracking') AND c.relkind IN ('r', 'i', 'S', 'v') "
            "AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = c.oid) "  # constraint indexes
            "AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid "
            "         AND d.classid = 'pg_class'::regclass AND d.deptype IN ('i', 'a')))")}  # identity sequences
        funcs = {f for (f,) in c.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname IN ('util', 'script_tracking') OR p.proname IN ('track_operation', 'complete_operation')")}
        funcs = {f if "." in f.split("(")[0] else "public." + f for f in funcs}
        evts = {e for (e,) in c.execute("SELECT evtname FROM pg_event_trigger")}
        canonical = {c.execute("SELECT %s::regprocedure::text", (i,)).fetchone()[0]: i
                     for i in ids if "(" in i}
    canonical = {(k if "." in k.split("(")[0] else "public." + k): v for k, v in canonical.items()}
    assert rels | evts == {i for i in ids if "(" not in i}
    assert funcs == set(canonical)


def test_read_reports_no_drift_after_install(installed: Stack):
    drifted = {}
    for o in installed.objects:
        r = installed.read(o)
        assert r.id == o.identity
        if r.outs["fingerprint"] != installed.outs[key(o)]["applied"]:
            drifted[o.identity] = (installed.outs[key(o)]["applied"], r.outs["fingerprint"])
    assert not drifted, f"a fresh install reads as drifted: {sorted(drifted)}"


def test_noop_diff_reports_no_changes(installed: Stack):
    changed = [o.identity for o in installed.objects if installed.diff(o).changes]
    assert changed == []
    # and after a refresh (read) too
    changed = [o.identity for o in installed.objects
               if installed.diff(o, olds=installed.read(o).outs).changes]
    assert changed == []


def test_formatting_only_edit_of_every_object_is_no_change(installed: Stack):
    changed = []
    for o in installed.objects:
        d = installed.diff(o, news=reformatted(o, body_comments=True))
        assert d.replaces == [], o.identity
        if d.changes:
            changed.append(o.identity)
    assert changed == []


def _sql_copy(tmp_path, transform=None, files=OBJECT_FILES + TRIGGER_FILES):
    for f in files:
        text = (SQL_DIR / f).read_text()
        (tmp_path / f).write_text(transform(text) if transform else text)
    return tmp_path


def _settings(installed: Stack, sql_dir):
    from script_tracking.desired import Settings
    return Settings(**{f"{slot}_role": installed.role(slot) for slot in ("owner", "writer", "reader")},
                    sql_dir=sql_dir)


def test_reformatted_sql_files_change_nothing(installed: Stack, tmp_path):
    """The files of sql/ rewritten as a whole (layout, comments, keyword case,
    inside bodies too): the same objects, and diff reports no change for any."""
    def transform(text: str) -> str:
        text = rewrite(text, word=lambda t, w: flip_case(w) if t.name != "SCONST" else w)
        return add_comments(respace(text), into_bodies=True)
    news = desired_objects(_settings(installed, _sql_copy(tmp_path, transform)))
    assert [key(o) for o in news] == [key(o) for o in installed.objects]
    for o, n in zip(installed.objects, news):
        assert n.statements != o.statements or o.kind in ("schema", "role", "owner", "grant", "data")
        assert installed.diff(o, news=n).changes is False, o.identity


def test_one_function_body_change_changes_that_object_only(installed: Stack, tmp_path):
    target = "script_tracking.track_operation(text, text, jsonb)"
    create = installed.obj(target).statements[0]

    def transform(text: str) -> str:
        return text.replace(create, changed_body(create)) if create in text else text
    news = desired_objects(_settings(installed, _sql_copy(tmp_path, transform)))
    changed = [o.identity for o, n in zip(installed.objects, news) if installed.diff(o, news=n).changes]
    assert changed == [target]
    d = installed.diff(installed.obj(target), news=next(n for n in news if n.identity == target))
    assert d.replaces == []  # updated in place (CREATE OR REPLACE), never replaced


def test_the_installed_system_works_for_its_roles(installed: Stack, pg):
    """Writer and reader roles get what their grants say, and the event triggers
    record DDL (all inside a transaction that is rolled back)."""
    writer, reader = installed.role("writer"), installed.role("reader")
    with psycopg.connect(pg.dsn(installed.conn["database"])) as c:
        c.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(writer)))
        hk = c.execute("SELECT public.track_operation('lifecycle.sql', 'deployment')").fetchone()[0]
        c.execute("SELECT public.complete_operation(%s, true)", (hk,))
        c.execute("SAVEPOINT s")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT * FROM script_tracking.script_execution_h")
        c.execute("ROLLBACK TO SAVEPOINT s")
        c.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(reader)))
        rows = c.execute("SELECT script_name, status FROM script_tracking.get_execution_history("
                         "p_script_name => 'lifecycle.sql')").fetchall()
        assert rows == [("lifecycle.sql", "COMPLETED")]
        c.execute("SAVEPOINT s")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT public.track_operation('x', 'ADHOC')")
        c.execute("ROLLBACK TO SAVEPOINT s")
        c.execute("RESET ROLE")
        c.execute("CREATE TABLE public.lifecycle_probe (a integer)")
        c.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(reader)))
        tracked = c.execute("SELECT command_tag, object_identity FROM script_tracking.ddl_history "
                            "WHERE object_identity = 'public.lifecycle_probe'").fetchall()
        assert tracked == [("CREATE TABLE", "public.lifecycle_probe")]
        c.rollback()


def test_delete_everything_in_reverse_order_then_again(stack: Stack, pg):
    stack.install()
    db = stack.conn["database"]
    roles = [o.identity for o in stack.objects if o.kind == "role"]
    for o in reversed(stack.objects):
        stack.delete(o)
    for o in stack.objects:
        r = stack.read(o)
        assert r.id is None and r.outs == {}, o.identity
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')"
                         ).fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_event_trigger").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_proc WHERE proname IN ('track_operation', 'complete_operation')"
                         ).fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (roles,)).fetchone()[0] == 0
    # deleting what is gone already is fine (idempotent), in any order
    for o in stack.objects:
        stack.delete(o)


@pytest.mark.parametrize("args, signature", [
    ("a text, b integer[]", "public.f(text, integer[])"),
    ("a varchar(10)", "public.f(character varying)"),
    ("a numeric(10, 2), b timestamp(3) with time zone", "public.f(numeric, timestamp with time zone)"),
], ids=["plain", "typmod", "two-typmods"])
def test_delete_function_of_any_signature(pg, db, conn, tmp_path, args, signature):
    """Delete drops the function the identity names, whatever its argument types."""
    from .support import ObjectProvider
    (tmp_path / "f.sql").write_text(
        f"CREATE FUNCTION public.f({args}) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;\n")
    fn = load_objects(("f.sql",), tmp_path)[0]
    p = ObjectProvider()
    outs = p.create({"kind": "function", "identity": fn.identity, "statements": list(fn.statements),
                     "connection": conn}).outs
    p.delete(fn.identity, outs)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT to_regprocedure(%s)", (signature,)).fetchone()[0] is None
    p.delete(fn.identity, outs)  # and again: gone is fine
