"""What the stack did not create, destroy does not take: a role that existed
before stays, a schema that existed before is dropped only when empty (else
kept, with the user's objects in it). And a
change of the connection alone (a rotated password, a new timeout) changes
nothing in the database."""

import re
from dataclasses import replace

import psycopg
import pytest
from psycopg import sql


from .support import Stack, key, props



def test_a_role_that_existed_before_survives_destroy(stack: Stack, pg, db):
    role = next(o for o in stack.objects if o.kind == "role")
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role.identity)))
        c.execute("CREATE TABLE public.app_data (v int)")
        c.execute(sql.SQL("ALTER TABLE public.app_data OWNER TO {}").format(sql.Identifier(role.identity)))
        c.execute("INSERT INTO public.app_data VALUES (1)")
    outs = stack.create(role)
    assert outs["adopted"] is True
    stack.delete(role)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.identity,)).fetchone()
        assert c.execute("SELECT v FROM public.app_data").fetchall() == [(1,)]


def test_a_users_login_role_is_only_granted_to_never_altered(stack: Stack, pg, db):
    """writerRole / readerRole naming an existing login: its attributes stay as they are
    (it is not made NOLOGIN), at create, in a later plan and at destroy."""
    role = next(o for o in stack.objects if o.kind == "role")
    attrs = "SELECT rolcanlogin, rolcreatedb, rolinherit FROM pg_roles WHERE rolname = %s"
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB NOINHERIT").format(sql.Identifier(role.identity)))
    outs = stack.create(role)
    assert outs["adopted"] is True
    assert not stack.diff(role).changes  # nothing to change later
    assert stack.read(role).outs["fingerprint"] == outs["applied"]  # and no drift
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute(attrs, (role.identity,)).fetchone() == (True, True, False)
    stack.delete(role)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute(attrs, (role.identity,)).fetchone() == (True, True, False)


def test_a_role_we_created_goes_but_what_it_owns_stays(stack: Stack, pg, db):
    role = next(o for o in stack.objects if o.kind == "role")
    assert stack.create(role)["adopted"] is False
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE TABLE public.made_later (v int)")
        c.execute(sql.SQL("ALTER TABLE public.made_later OWNER TO {}").format(sql.Identifier(role.identity)))
    stack.delete(role)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.identity,)).fetchone()
        assert c.execute("SELECT to_regclass('public.made_later') IS NOT NULL").fetchone()[0]


def test_a_schema_that_existed_before_is_dropped_only_when_empty(stack: Stack, pg, db):
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE SCHEMA util")
        c.execute("CREATE TABLE util.users_own (v int)")
    util = stack.obj("util")
    assert stack.create(util)["adopted"] is True
    stack.delete(util)  # the user's table is left in it: the schema is kept, the delete goes on
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT to_regclass('util.users_own') IS NOT NULL").fetchone()[0]
        c.execute("DROP TABLE util.users_own")
    stack.delete(util)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert not c.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'util'").fetchone()


def test_a_connection_change_alone_runs_no_ddl(stack: Stack, pg, db):
    idx = "script_tracking.script_execution_h_recent_idx"
    stack.install([idx])
    obj = stack.obj(idx)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        oid = c.execute("SELECT %s::regclass::oid", (idx,)).fetchone()[0]
    stack.conn = {**stack.conn, "lockTimeoutMs": 1234}
    assert stack.diff(obj).changes  # the state must learn the new settings...
    stack.update(obj, obj)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:  # ...but the index is not rebuilt
        assert c.execute("SELECT %s::regclass::oid", (idx,)).fetchone()[0] == oid
    assert stack.outs[key(obj)]["connection"]["lockTimeoutMs"] == 1234


def test_an_owner_object_that_goes_hands_its_object_back(stack: Stack, pg, db):
    """ownerRole set to "": the objects go back to the login that applies, even while the
    role stays (used by another database, or the user's own)."""
    fn = "script_tracking.track_operation(text, text, jsonb)"
    owner = stack.role("owner")
    stack.install([owner, f"owner of function {fn}"])

    def owner_of() -> str:
        with psycopg.connect(pg.dsn(db), autocommit=True) as c:
            return c.execute("SELECT proowner::regrole::text FROM pg_proc WHERE oid = %s::regprocedure",
                             (fn,)).fetchone()[0]

    assert owner_of() == owner
    stack.delete(stack.obj(f"owner of function {fn}"))
    assert owner_of() == "postgres"


def test_a_superuser_is_refused_as_owner_role(stack: Stack, pg, db):
    from script_tracking.plan import PlanError
    owner = stack.role("owner")
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} SUPERUSER NOLOGIN").format(sql.Identifier(owner)))
    fn = "script_tracking.track_operation(text, text, jsonb)"
    with pytest.raises(PlanError, match=f"refusing to make {owner} the owner of {re.escape(fn)}: it is a superuser"):
        stack.install([f"owner of function {fn}"])
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT proowner::regrole::text FROM pg_proc WHERE oid = %s::regprocedure",
                         (fn,)).fetchone()[0] == "postgres"


def test_preview_of_a_grant_moved_to_a_role_not_made_yet(stack: Stack, pg, db):
    """writerRole renamed to a role that does not exist yet: at apply its Role resource
    makes it first, so the preview's rehearsal of the grant's move (run and rolled back)
    makes it too, instead of failing with 42704."""
    grant = next(o for o in stack.objects if o.kind == "grant" and o.name == "writer")
    stack.install([grant.identity])
    renamed = Stack.for_settings(stack.conn, replace(stack.settings, writer_role=stack.role("writer") + "_2"))
    moved = renamed.obj(grant.identity, "grant")
    news = props(moved, stack.conn)
    checked = stack.provider.check(stack.outs[key(grant)], news)
    assert checked.failures == []
    shown = checked.inputs["plan"]
    assert "REVOKE" in str(shown) and renamed.role("writer") in str(shown)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:  # the rehearsal was rolled back
        assert not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (renamed.role("writer"),)).fetchone()
