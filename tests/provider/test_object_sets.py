"""An installation is a set of objects applied together: what happens when the
set changes shape. A schema that leaves the program keeps the tables of ours
that are retained with their rows; a table holding rows never silently becomes
another kind of object; moving to another database is refused while any table
of ours (retained ones too) holds rows; a grant that moves to another role
takes the privilege from the old one; a value the component found invalid is a
check failure. Each against a real server, through the provider."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from script_tracking.desired import Settings, desired_objects
from script_tracking.plan import PlanError
from script_tracking.provider import ObjectSetProvider
from tests.conftest import standby_of

from .support import connection, objects_input


def obj(kind: str, identity: str, *statements: str, depends_on=()) -> dict:
    return {"kind": kind, "identity": identity, "statements": list(statements), "dependsOn": list(depends_on)}


SCHEMA = obj("schema", "app", "CREATE SCHEMA app")
TABLE = obj("table", "app.t", "CREATE TABLE app.t (id integer)", depends_on=("app",))
VIEW = obj("view", "app.v", "CREATE VIEW app.v AS SELECT 1 AS one", depends_on=("app",))
FUNC = obj("function", "app.f()", "CREATE FUNCTION app.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$",
           depends_on=("app",))


def props(pg, db: str, *objects: dict) -> dict:
    return {"objects": {o["identity"]: o for o in objects}, "connection": connection(pg, db), "preflight": False}


def q(pg, db: str, query: str, params=None):
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        cur = c.execute(query, params)
        return cur.fetchall() if cur.description else None


def test_a_schema_that_leaves_keeps_the_retained_tables_and_their_rows(pg, db):
    p = ObjectSetProvider()
    outs = p.create(props(pg, db, SCHEMA, TABLE, FUNC)).outs
    q(pg, db, "INSERT INTO app.t VALUES (1)")
    news = props(pg, db, obj("schema", "other", "CREATE SCHEMA other"))
    assert p.diff("x", outs, news).changes
    outs = p.update("x", outs, news).outs
    assert q(pg, db, "SELECT id FROM app.t") == [(1,)], "rows kept"
    assert set(outs["retained"]) == {"app", "app.t"} and q(pg, db, "SELECT to_regprocedure('app.f()')") == [(None,)]
    assert p.diff("x", outs, news).changes is False
    p.delete("x", outs)  # destroy, the complete rollback, takes them
    assert q(pg, db, "SELECT count(*) FROM pg_namespace WHERE nspname IN ('app', 'other')") == [(0,)]


def test_a_table_holding_rows_does_not_become_a_view(pg, db):
    p = ObjectSetProvider()
    outs = p.create(props(pg, db, SCHEMA, TABLE)).outs
    news = props(pg, db, SCHEMA, obj("view", "app.t", "CREATE VIEW app.t AS SELECT 1 AS id", depends_on=("app",)))
    q(pg, db, "INSERT INTO app.t VALUES (1)")
    with pytest.raises(PlanError, match="refusing to change table app.t: it holds rows and would become a view"):
        p.diff("x", outs, news)
    with pytest.raises(PlanError, match="would become a view"):
        p.update("x", outs, news)
    assert q(pg, db, "SELECT id FROM app.t") == [(1,)]
    q(pg, db, "DELETE FROM app.t")
    assert p.diff("x", outs, news).changes
    p.update("x", outs, news)
    assert q(pg, db, "SELECT relkind FROM pg_class WHERE oid = 'app.t'::regclass") == [("v",)]


def test_moving_away_is_refused_while_a_retained_table_holds_rows(pg, db, new_db):
    p = ObjectSetProvider()
    outs = p.create(props(pg, db, SCHEMA, TABLE)).outs
    q(pg, db, "INSERT INTO app.t VALUES (1)")
    outs = p.update("x", outs, props(pg, db, SCHEMA)).outs  # the table is retained
    assert set(outs["retained"]) == {"app.t"}
    elsewhere = props(pg, new_db(), SCHEMA)
    with pytest.raises(PlanError, match="refusing to move to another database: table app.t holds rows"):
        p.diff("x", outs, elsewhere)


def test_a_grant_moved_to_another_role_is_revoked_from_the_old_one(pg, db, role_name):
    other = role_name + "_b"
    for r in (role_name, other):
        q(pg, db, sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(r)))
    try:
        def grant(role: str) -> dict:
            return obj("grant", "writer: USAGE on schema app", f'GRANT USAGE ON SCHEMA "app" TO "{role}"',
                       depends_on=("app",))

        p = ObjectSetProvider()
        outs = p.create(props(pg, db, SCHEMA, grant(role_name))).outs
        outs = p.update("x", outs, props(pg, db, SCHEMA, grant(other))).outs
        usage = "SELECT has_schema_privilege(%s, 'app', 'USAGE')"
        assert q(pg, db, usage, (other,)) == [(True,)] and q(pg, db, usage, (role_name,)) == [(False,)]
        p.delete("x", outs)
    finally:
        q(pg, db, sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(other)))


def test_values_the_component_found_invalid_fail_the_check():
    p = ObjectSetProvider()
    bad = {"objects": {"writer: USAGE on schema app": {"invalid": "writer_role: None is not a role name"}},
           "connection": {"invalid": "ScriptTracking 'x': port: 0 is outside 1..65535"}, "preflight": True}
    assert [(f.property, f.reason) for f in p.check({}, bad).failures] == [
        ("", "ScriptTracking 'x': port: 0 is outside 1..65535")]
    bad["connection"] = {}
    assert [(f.property, f.reason) for f in p.check({}, bad).failures] == [
        ("", "writer: USAGE on schema app: writer_role: None is not a role name")]


def _checked(pg, db: str, **settings) -> list[str]:
    """The check failures of a whole installation's objects (but its roles) at preview."""
    objects = objects_input(o for o in desired_objects(Settings(owner_role="", **settings)) if o.kind != "role")
    return [f.reason for f in ObjectSetProvider().check({}, {"objects": objects, "connection": connection(pg, db),
                                                             "preflight": True}).failures]


@pytest.mark.parametrize("field,tags,error", [
    ("ddl_include_tags", ("CREATE TABLE", "CREATE TABEL"),
     'ddlIncludeTags: SQLSTATE 42601: filter value "CREATE TABEL" not recognized for filter variable "tag"'),
    ("ddl_exclude_tags", ("DROP TABLE", "DROP TABEL"),
     'ddlExcludeTags: SQLSTATE 42601: filter value "DROP TABEL" not recognized for filter variable "tag"'),
    # a command no event trigger fires for: an include of it matches nothing; an exclude is harmless
    ("ddl_include_tags", ("CREATE DATABASE",),
     "ddlIncludeTags: SQLSTATE 0A000: event triggers are not supported for CREATE DATABASE"),
    ("ddl_exclude_tags", ("CREATE DATABASE", "DROP EVENT TRIGGER"), None),
    ("ddl_include_tags", ("CREATE TABLE", "ALTER TABLE", "DROP TABLE", "COMMENT", "SELECT INTO"), None),
])
def test_the_filters_command_tags_are_the_servers(pg, db, field, tags, error):
    """A tag the server's event triggers do not know passes the settings' shape check but
    would leave the filter matching nothing: the preview's check refuses it, and nothing
    it tried stays."""
    assert [reason.split(": ", 1)[1] for reason in _checked(pg, db, **{field: tags})] == ([] if error is None else [
        f"{error} (the DDL tracker's filter takes the command tags this server's event triggers know)"])
    assert q(pg, db, "SELECT evtname FROM pg_event_trigger") == []
    assert q(pg, db, "SELECT 1 FROM pg_proc WHERE proname = 'script_tracking_tag_check'") == []


def _own_roles() -> dict[str, str]:
    """Role names of one test only: a render of the same objects on this server is cached."""
    tag = uuid.uuid4().hex[:8]
    return {"writer_role": f"st_w_{tag}", "reader_role": f"st_r_{tag}"}


def test_a_tag_check_that_cannot_run_leaves_the_reason_to_the_rendering(pg, db):
    """No PL/pgSQL in the database: the tags cannot be checked, nor can anything be
    installed; the preview names the cause as it does without tags, not the check's own
    statement."""
    q(pg, db, "DROP EXTENSION plpgsql")
    roles = _own_roles()
    without = _checked(pg, db, **roles)
    assert len(without) == 1 and "SQLSTATE 42704" in without[0] and '"plpgsql"' in without[0], without
    assert _checked(pg, db, ddl_include_tags=("CREATE TABLE",), **roles) == without


def test_a_read_only_database_is_refused_at_preview(pg, db):
    """Also where the render of its objects is cached: the preview would pass and `up` fail
    with SQLSTATE 25006."""
    roles = _own_roles()
    assert _checked(pg, db, **roles) == []  # rendered: the next preview of these objects uses the cache
    q(pg, db, sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(sql.Identifier(db)))
    assert _checked(pg, db, **roles) == [
        f"postgres@127.0.0.1:{pg.port}/{db}: database {db} is read-only for postgres "
        "(default_transaction_read_only is on): nothing can be installed there"]


def test_a_standby_is_refused_at_preview(pg, db):
    """A fleet entry that names a replica: one line, not a preview that passes on a cached
    render (or a rendering's SQLSTATE 25006) and an `up` that fails."""
    roles = _own_roles()
    assert _checked(pg, db, **roles) == []
    with standby_of(pg) as replica:
        assert _checked(replica, db, **roles) == [
            f"postgres@127.0.0.1:{replica.port}/{db}: the server is a standby (in recovery), where nothing can "
            "be installed: connect to the primary"]
