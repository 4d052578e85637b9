"""diff beyond the SQL text: drift recorded in the state, connection changes
(password: update in place; host/port/database: replace), kind/identity changes,
and the refusal to replace a table that holds rows."""

from __future__ import annotations

import psycopg
import pytest

from script_tracking.db import ProviderError
from script_tracking.plan import PlanError

from .support import Stack, key

TABLE = "util.audit_log"
FN = "util.log_audit_event(text, text, text, text, jsonb)"


def test_a_live_difference_is_a_change_without_a_refresh(stack: Stack, pg):
    """Preview compares the live catalog itself, not what the state last recorded."""
    stack.install([FN])
    obj = stack.obj(FN)
    assert stack.diff(obj).changes is False
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        c.execute(f"COMMENT ON FUNCTION {FN} IS 'changed'")
    d = stack.diff(obj)
    assert d.changes is True and d.replaces == []


def test_new_password_updates_in_place(stack: Stack):
    stack.install([FN])
    obj = stack.obj(FN)
    olds = stack.outs[key(obj)]
    # the plan comes from check (with the new password); diff only reads it
    news = {**stack.inputs(obj), "connection": {**stack.conn, "password": "rotated"}, "plan": {}}
    d = stack.provider.diff(obj.identity, olds, news)
    assert d.changes is True and d.replaces == []


def test_moving_to_another_database_replaces(stack: Stack, new_db):
    stack.install([FN])
    obj = stack.obj(FN)
    news = {**stack.inputs(obj), "connection": {**stack.conn, "database": new_db()}}
    d = stack.provider.diff(obj.identity, stack.outs[key(obj)], news)
    assert d.changes is True and d.replaces == ["connection"] and d.delete_before_replace is True


def test_a_new_address_of_the_same_database_is_an_update_that_changes_nothing(stack: Stack, pg):
    """The database is known by what it is (its cluster's system identifier and its
    OID), not by the text of its address: localhost for 127.0.0.1 moves nothing."""
    stack.install([FN])
    obj = stack.obj(FN)
    oid = "SELECT %s::regprocedure::oid"
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        before = c.execute(oid, (FN,)).fetchone()[0]
    news = {**stack.inputs(obj), "connection": {**stack.conn, "host": "localhost"}}
    d = stack.provider.diff(obj.identity, stack.outs[key(obj)], news)
    assert d.changes is True and d.replaces == []
    stack.provider.update(obj.identity, stack.outs[key(obj)], news)
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        assert c.execute(oid, (FN,)).fetchone()[0] == before


def test_a_new_address_that_does_not_answer_is_refused_at_diff(stack: Stack):
    stack.install([FN])
    obj = stack.obj(FN)
    news = {**stack.inputs(obj), "connection": {**stack.conn, "port": 1}}
    with pytest.raises(ProviderError, match="cannot tell whether postgres@127.0.0.1:1/.* is the database of the "
                                            "installation"):
        stack.provider.diff(obj.identity, stack.outs[key(obj)], news)


@pytest.mark.parametrize("field, value", [("kind", "view"), ("identity", "util.other()")])
def test_another_object_in_place_of_one_is_an_update(stack: Stack, field, value):
    """An object's key is its identity: another one is one dropped and one created,
    an update of the installation, never a replacement of it."""
    stack.install([FN])
    obj = stack.obj(FN)
    d = stack.provider.diff(obj.identity, stack.outs[key(obj)], {**stack.inputs(obj), field: value})
    assert d.changes is True and d.replaces == []


def test_replacing_a_table_that_holds_rows_is_refused_at_diff(stack: Stack, pg, new_db):
    stack.install([TABLE])
    obj = stack.obj(TABLE)
    news = {**stack.inputs(obj), "connection": {**stack.conn, "database": new_db()}}
    assert stack.provider.diff(obj.identity, stack.outs[key(obj)], news).replaces == ["connection"]
    with psycopg.connect(pg.dsn(stack.conn["database"]), autocommit=True) as c:
        c.execute("INSERT INTO util.audit_log (event_type, resource_type) VALUES ('E', 'R')")
    with pytest.raises(PlanError, match="refusing to move to another database: table util.audit_log holds rows"):
        stack.provider.diff(obj.identity, stack.outs[key(obj)], news)


def test_diff_of_an_unchanged_table_does_not_touch_the_database(stack: Stack):
    stack.install([TABLE])
    obj = stack.obj(TABLE)
    olds = {**stack.outs[key(obj)], "connection": {**stack.conn, "password": "wrong"}}
    news = {**stack.inputs(obj), "connection": olds["connection"], "plan": {}}  # as check made it
    assert stack.provider.diff(obj.identity, olds, news).changes is False  # no connection attempted


def test_a_connection_unknown_at_preview_is_an_update(stack: Stack):
    """A database made in the same `up`: its address is unknown at preview. The
    installation is then updated with the real values, never replaced on a guess."""
    from pulumi.runtime.rpc import UNKNOWN  # the dynamic provider host's sentinel

    stack.install([FN])
    obj = stack.obj(FN)
    news = {**stack.inputs(obj), "connection": UNKNOWN}
    d = stack.provider.diff(obj.identity, stack.outs[key(obj)], news)
    assert d.changes is True and d.replaces == []
    partly = {**stack.inputs(obj), "connection": {**stack.conn, "host": UNKNOWN}}
    assert stack.provider.diff(obj.identity, stack.outs[key(obj)], partly).replaces == []
    assert stack.provider.check({}, news).failures == []
