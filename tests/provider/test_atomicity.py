"""All or nothing: every create/update/delete is one transaction, so an object
whose later statement fails leaves nothing behind (create) or keeps its previous
version (update)."""

from __future__ import annotations

import psycopg
import pytest

from script_tracking.db import ProviderError
from .support import ObjectProvider

from .support import connection


def _exists(pg, db: str, query: str, *args) -> bool:
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        return c.execute(query, args).fetchone()[0]


def _table_exists(pg, db, name="public.t") -> bool:
    return _exists(pg, db, "SELECT to_regclass(%s) IS NOT NULL", name)


def _function_exists(pg, db, sig) -> bool:
    return _exists(pg, db, "SELECT to_regprocedure(%s) IS NOT NULL", sig)


def test_failing_comment_leaves_no_table(pg, db, conn):
    p = ObjectProvider()
    with pytest.raises(ProviderError) as exc:
        p.create({"kind": "table", "identity": "public.t", "connection": conn, "statements": [
            "CREATE TABLE public.t (a integer)",
            "COMMENT ON COLUMN public.t.no_such_column IS 'x'"]})
    msg = str(exc.value)
    assert "SQLSTATE 42703" in msg and "no_such_column" in msg and "\n" not in msg
    assert not _table_exists(pg, db)


def test_raising_statement_leaves_no_function(pg, db, conn):
    p = ObjectProvider()
    with pytest.raises(ProviderError) as exc:
        p.create({"kind": "function", "identity": "public.f()", "connection": conn, "statements": [
            "CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$",
            "DO $$ BEGIN RAISE EXCEPTION 'boom in the second statement'; END $$"]})
    # found when the desired state is rendered (rolled back), before anything is applied
    assert str(exc.value).endswith("SQLSTATE P0001: boom in the second statement")
    assert not _function_exists(pg, db, "public.f()")


def test_failing_update_keeps_the_previous_version(pg, db, conn):
    p = ObjectProvider()
    v1 = ["CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$",
          "COMMENT ON FUNCTION public.f() IS 'v1'"]
    olds = p.create({"kind": "function", "identity": "public.f()", "connection": conn, "statements": v1}).outs
    v2 = ["CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS $$ SELECT 2 $$",
          "COMMENT ON FUNCTION public.f() IS 'v2'",
          "COMMENT ON TABLE public.no_such_table IS 'x'"]
    with pytest.raises(ProviderError, match="SQLSTATE 42P01"):
        p.update("public.f()", olds, {**olds, "statements": v2})
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT public.f(), obj_description('public.f()'::regprocedure)").fetchone() == (1, "v1")
    assert p.read("public.f()", olds).outs["fingerprint"] == olds["applied"]


def test_statement_timeout_bounds_an_apply(pg, db):
    p = ObjectProvider()
    conn = connection(pg, db, statementTimeoutMs=200)
    with pytest.raises(ProviderError) as exc:
        p.create({"kind": "table", "identity": "public.t", "connection": conn, "statements": [
            "CREATE TABLE public.t (a integer)", "SELECT pg_sleep(5)"]})
    assert "SQLSTATE 57014: canceling statement due to statement timeout" in str(exc.value)
    assert not _table_exists(pg, db)


def test_lock_timeout_bounds_waiting_for_a_users_lock(pg, db, conn):
    p = ObjectProvider()
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE TABLE public.busy (a integer)")
    conn = {**conn, "lockTimeoutMs": 200}
    with psycopg.connect(pg.dsn(db)) as holder:
        holder.execute("LOCK TABLE public.busy IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(ProviderError) as exc:
            p.create({"kind": "index", "identity": "public.busy_a_idx", "connection": conn,
                      "statements": ["CREATE INDEX busy_a_idx ON public.busy (a)"]})
        holder.rollback()
    assert "SQLSTATE 55P03: canceling statement due to lock timeout" in str(exc.value)
    assert not _table_exists(pg, db, "public.busy_a_idx")


@pytest.mark.parametrize("source, check", [
    pytest.param('CREATE TABLE public."MixedCase" (id integer)',
                 "SELECT to_regclass('public.\"MixedCase\"') IS NOT NULL"),
    pytest.param('CREATE FUNCTION public."MixedCase"() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$',
                 "SELECT to_regprocedure('public.\"MixedCase\"()') IS NOT NULL"),
    ("CREATE FUNCTION public.f(p_id public.t.id%TYPE) RETURNS integer LANGUAGE sql AS $$ SELECT p_id $$",
     "SELECT to_regprocedure('public.f(integer)') IS NOT NULL"),
], ids=["quoted-table", "quoted-function", "percent-type-argument"])
def test_an_object_is_either_applied_or_not_there(pg, db, conn, tmp_path, source, check):
    """Whatever sqlsource makes of an object's identity, create either succeeds
    with a fingerprint or fails leaving nothing behind: never commit the object
    and then report an error (the retry would fail with "already exists")."""
    from script_tracking.sqlsource import load_objects
    (tmp_path / "x.sql").write_text("CREATE TABLE public.t (id integer);\n" + source + ";\n")
    table, obj = load_objects(("x.sql",), tmp_path)
    p = ObjectProvider()
    p.create({"kind": "table", "identity": table.identity, "statements": list(table.statements),
              "connection": conn})
    props = {"kind": obj.kind, "identity": obj.identity, "statements": list(obj.statements), "connection": conn}
    try:
        outs = p.create(props).outs
    except ProviderError as exc:
        assert not _exists(pg, db, check), f"create of {obj.identity} failed ({exc}) but committed it"
    else:
        assert outs["applied"] is not None and _exists(pg, db, check)
        assert p.read(obj.identity, outs).outs["fingerprint"] == outs["applied"]
