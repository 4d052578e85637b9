"""Errors reach the user as one line that names the problem (and never the
password): connection failures, missing privileges, bad input at check."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from script_tracking.db import ProviderError
from script_tracking.plan import PlanError
from .support import ObjectProvider
from scripts.localpg import free_port

from .support import Stack, connection, props

FN = {"kind": "function", "identity": "public.f()",
      "statements": ["CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$"]}
TABLE = {"kind": "table", "identity": "public.t", "statements": ["CREATE TABLE public.t (a integer)"]}


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg and "Traceback" not in msg, msg
    return msg


def _every_operation(p: ObjectProvider, conn: dict):
    """create, read, update, delete and diff (of a table, which reads the catalog)."""
    olds = {**TABLE, "connection": conn, "applied": {"x": 1}, "fingerprint": {"x": 1}}
    news = {**TABLE, "connection": conn, "statements": ["CREATE TABLE public.t (a integer, b text)"]}
    yield "create", lambda: p.create({**FN, "connection": conn})
    yield "read", lambda: p.read("public.f()", {**FN, "connection": conn})
    yield "update", lambda: p.update("public.f()", {**FN, "connection": conn}, {**FN, "connection": conn})
    yield "delete", lambda: p.delete("public.f()", {**FN, "connection": conn})
    yield "diff", lambda: p.diff("public.t", olds, news)


@pytest.mark.parametrize("problem", ["wrong-password", "unreachable-port", "no-such-database", "no-such-user"])
def test_connection_failures_are_one_line(pg, db, problem):
    p = ObjectProvider()
    secret = "wrong-" + uuid.uuid4().hex
    conn = {
        "wrong-password": lambda: connection(pg, db, password=secret),
        "unreachable-port": lambda: {**connection(pg, db, password=secret), "port": free_port()},
        "no-such-database": lambda: connection(pg, db + "_missing", password=secret),
        "no-such-user": lambda: connection(pg, db, username="nobody_" + uuid.uuid4().hex[:6], password=secret),
    }[problem]()
    for name, op in _every_operation(p, conn):
        if name == "diff" and problem == "unreachable-port":
            # a server that cannot be reached at preview: the SQL is compared instead (the
            # update then fails for this database alone, naming it)
            assert op().changes is True
            continue
        with pytest.raises(ProviderError) as exc:
            op()
        msg = _one_line(exc.value)
        where = f"{conn['username']}@127.0.0.1:{conn['port']}/{conn['database']}"
        assert msg.startswith(f"cannot connect to PostgreSQL as {where}: "), (name, msg)
        assert len(msg) > len(f"cannot connect to PostgreSQL as {where}: ") + 5, (name, msg)
        assert secret not in msg and pg.password not in msg, (name, msg)
        if problem == "wrong-password":
            assert "password authentication failed" in msg, msg
        if problem == "unreachable-port":
            assert "refused" in msg.lower() or "connect" in msg.lower(), msg


@pytest.fixture
def login_role(pg, db):
    name, password = "st_nosuper_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
    yield name, password
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_non_superuser_creating_the_event_trigger_is_told_why(stack: Stack, pg, login_role):
    stack.install(["script_tracking.ddl_tracker_command_end()"])
    user, password = login_role
    trigger = stack.obj("auto_ddl_tracker")
    p = ObjectProvider()
    with pytest.raises(ProviderError) as exc:
        p.create(props(trigger, connection(pg, stack.conn["database"], username=user, password=password)))
    msg = _one_line(exc.value)
    assert "SQLSTATE 42501" in msg and "superuser" in msg, msg
    assert "trackDdl" in msg, msg  # and how to do without
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM pg_event_trigger").fetchone()[0] == 0


def test_missing_privilege_names_the_sqlstate_without_the_superuser_hint(pg, db, login_role):
    user, password = login_role
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE SCHEMA locked")
    p = ObjectProvider()
    with pytest.raises(ProviderError) as exc:
        p.create({"kind": "table", "identity": "locked.t", "statements": ["CREATE TABLE locked.t (a integer)"],
                  "connection": connection(pg, db, username=user, password=password)})
    msg = _one_line(exc.value)
    # (the desired state is rendered first, in scratch schemas: the database refuses that)
    assert "SQLSTATE 42501: permission denied for database" in msg, msg
    assert "superuser" not in msg


@pytest.mark.parametrize("bad, message", [
    ({"port": "not-a-port"}, "invalid connection settings"),
    ({"host": None, "port": None}, "invalid connection settings"),
])
def test_invalid_connection_settings(pg, db, bad, message):
    conn = {**connection(pg, db), **bad}
    if bad.get("host", "") is None:
        del conn["host"]
    with pytest.raises(ProviderError, match=message) as exc:
        ObjectProvider().create({**FN, "connection": conn})
    _one_line(exc.value)


def test_check_reports_bad_inputs_in_one_line_naming_the_object():
    p = ObjectProvider()
    r = p.check({}, {"kind": "procedure", "identity": "x", "statements": []})
    assert {(f.property, f.reason) for f in r.failures} == {
        ("", "x: unknown object kind 'procedure'"), ("", "x: an object needs at least one statement")}
    r = p.check({}, {"kind": "table", "identity": "public.t", "statements": ["CREATE TABLE public.t (a integer"]})
    assert [f.property for f in r.failures] == [""]
    assert r.failures[0].reason.startswith("public.t: ") and "syntax error" in r.failures[0].reason
    ok = {"kind": "function", "identity": "public.f()", "statements": FN["statements"], "connection": {}}
    r = p.check({}, ok)
    assert r.failures == [] and r.inputs == p.wrap(ok)


def test_plan_errors_are_provider_errors():
    assert issubclass(PlanError, ProviderError)
