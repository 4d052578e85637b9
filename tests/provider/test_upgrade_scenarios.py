"""Upgrade scenarios, migra style: each directory of tests/fixtures/upgrades holds

  before.sql   the objects installed first (by the provider; with a file `adopt`: by
               plain SQL, as psql -f would, and then adopted)
  seed.sql     rows put in before the upgrade (optional)
  after.sql    the objects wanted
  before.grants, after.grants   grant objects (as the component makes for its roles), one
               per line: <privilege> <object kind> <object> <role> (optional)
  expected     the plan preview shows, one line per object ("<action> <key>") and, for
               an alter, its statements indented; or "refused: <text of the one-line
               reason>"

For each, against a real server: the plan made at preview (check) is `expected`;
`up` (update) does it, or refuses exactly as preview did with nothing changed; after
it, every object's catalog fingerprint equals that of a fresh install of after.sql
(upgrade = fresh install), the rows are unchanged, and a second preview plans nothing.
ST_REGENERATE=1 writes `expected` from what the plan is (review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from script_tracking import catalog
from script_tracking.db import ProviderError
from script_tracking.desired import Settings, desired_objects, grant_object
from script_tracking.provider import ObjectSetProvider, creation_order
from script_tracking.sqlsource import load_objects, normalize

from .support import CATALOG_OPTIONS, connection, objects_input

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "upgrades"
ROLES = ("st_fixture_reader", "st_fixture_writer")  # the roles the scenarios grant to


def _objects(path: Path) -> dict[str, dict]:
    objects = load_objects((path.name,), path.parent)
    grants = path.with_suffix(".grants")
    if grants.exists():
        objects += [grant_object(privilege, on, target, role, role)
                    for privilege, on, target, role in map(str.split, grants.read_text().splitlines())]
    return objects_input(objects)


def _system(pg, db: str) -> dict[str, dict]:
    """The tracking system's objects but its roles (without the DDL tracker and the owner
    role), its writer and reader roles made in the server."""
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        for role in ("st_fx_writer", "st_fx_reader"):
            if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                c.execute(f"CREATE ROLE {role} NOLOGIN")
    settings = Settings(track_ddl=False, owner_role="", writer_role="st_fx_writer", reader_role="st_fx_reader")
    return {k: o for k, o in objects_input(desired_objects(settings)).items() if o["kind"] != "role"}


def _fingerprints(pg, db: str, objects: dict[str, dict]) -> dict[str, object]:
    with psycopg.connect(pg.dsn(db), autocommit=True, options=CATALOG_OPTIONS) as c:
        return {k: catalog.inspect(c, o["kind"], o["identity"], o["statements"]) for k, o in objects.items()}


def _privileges(pg, db: str) -> list[tuple]:
    """Who may do what with every relation and function of the scenario (grant objects
    are objects of their own: this is how a removed one is seen to be gone)."""
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        return c.execute(
            "SELECT c.relname, c.relacl::text FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
            "UNION ALL SELECT p.oid::regprocedure::text, p.proacl::text FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1").fetchall()


def _rows(pg, db: str) -> dict[str, list]:
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        tables = [r[0] for r in c.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1")]
        return {t: [r[0] for r in c.execute(f"SELECT to_jsonb(t) FROM {t} t ORDER BY 1")] for t in tables}


def _render(plan: dict[str, dict]) -> str:
    lines = []
    for key, entry in plan.items():
        lines.append(f"{entry['action']} {key}")
        if entry["action"] == "alter":
            lines += [f"  {normalize(s)}" for s in entry["steps"]]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", autouse=True)
def fixture_role(pg):
    with psycopg.connect(pg.dsn("postgres"), autocommit=True) as c:
        for role in ROLES:
            if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                c.execute(f"CREATE ROLE {role} NOLOGIN")


def test_there_are_enough_scenarios():
    assert len(list(CASES.iterdir())) >= 30


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_upgrade_scenario(case, pg, new_db):
    d = CASES / case
    before, after = _objects(d / "before.sql"), _objects(d / "after.sql")
    db = new_db()
    conn = connection(pg, db)
    p = ObjectSetProvider()
    if (d / "adopt").exists():  # an install made by hand (psql): the stack adopts it
        with psycopg.connect(pg.dsn(db), autocommit=True) as c:
            c.execute((d / "before.sql").read_text())
        olds_in, olds = {}, None
    else:
        olds_in = {"objects": before, "connection": conn, "preflight": False}
        olds = p.create(olds_in).outs
    if (d / "seed.sql").exists():
        with psycopg.connect(pg.dsn(db), autocommit=True) as c:
            c.execute((d / "seed.sql").read_text())
    fp0, rows0 = _fingerprints(pg, db, before), _rows(pg, db)

    news = {"objects": after, "connection": conn, "preflight": False}
    checked = p.check(olds_in, news)
    expected = (d / "expected").read_text() if (d / "expected").exists() else None
    if checked.failures:
        got = f"refused: {checked.failures[0].reason}\n"
    else:
        got = _render(checked.inputs["plan"])
    if os.environ.get("ST_REGENERATE"):
        (d / "expected").write_text(got)
        expected = got
    if expected.startswith("refused: "):
        assert got.startswith("refused: ") and expected[9:].strip() in got, got
        with pytest.raises(ProviderError) as exc:
            p.update("x", olds, news) if olds else p.create(news)
        assert expected[9:].strip() in str(exc.value) and "\n" not in str(exc.value)
        assert (_fingerprints(pg, db, before), _rows(pg, db)) == (fp0, rows0), "nothing changed"
        return
    assert got == expected
    if olds is not None:
        assert p.diff("x", olds, checked.inputs).changes is bool(checked.inputs["plan"])
    outs = (p.update("x", olds, checked.inputs) if olds else p.create(checked.inputs)).outs

    fresh_db = new_db()
    fresh = {"objects": after, "connection": connection(pg, fresh_db), "preflight": False}
    p.create(p.check({}, fresh).inputs)
    upgraded, installed = _fingerprints(pg, db, after), _fingerprints(pg, fresh_db, after)
    assert {k: catalog.same(after[k]["kind"], upgraded[k], installed[k]) for k in after} == \
        {k: True for k in after}, "upgrade = fresh install"
    assert _privileges(pg, db) == _privileges(pg, fresh_db)
    rows = _rows(pg, db)
    for table, before_rows in rows0.items():
        kept = [{k: v for k, v in r.items() if k in before_rows[0]} for r in rows.get(table, [])] if before_rows else []
        assert kept == [{k: v for k, v in r.items() if k in (rows[table][0] if rows.get(table) else r)}
                        for r in before_rows], f"rows of {table} kept"
    again = p.check({"objects": after, "connection": conn, "preflight": False}, news)
    assert again.failures == [] and again.inputs["plan"] == {}, "a second preview plans nothing"
    assert p.diff("x", outs, again.inputs).changes is False


def test_adopting_a_hand_edited_install_shows_and_repairs_every_difference(pg, new_db):
    """The reproduction of issue 10: an install (as psql makes it) whose hub CHECK lacks
    'ADHOC' and whose record_source is varchar(20) NULL was adopted with an empty plan,
    and track_operation('x', 'ADHOC') then failed. Now preview names both differences,
    up repairs them keeping the rows, and the ADHOC execution is tracked."""
    db = new_db()
    objects = _system(pg, db)
    p = ObjectSetProvider()
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        for k in creation_order(objects):
            for statement in objects[k]["statements"]:
                c.execute(statement)
        c.execute("ALTER TABLE script_tracking.script_execution_h DROP CONSTRAINT script_execution_h_type_ck, "
                  "ADD CONSTRAINT script_execution_h_type_ck CHECK (script_type IN ('DEPLOYMENT', 'MIGRATION', "
                  "'MAINTENANCE', 'VALIDATION', 'ROLLBACK', 'DATA_FIX', 'DDL'))")
        c.execute("DROP VIEW script_tracking.ddl_history")  # it reads the column
        c.execute("ALTER TABLE script_tracking.script_execution_h ALTER COLUMN record_source TYPE varchar(20), "
                  "ALTER COLUMN record_source DROP NOT NULL")
        for statement in objects["script_tracking.ddl_history"]["statements"]:
            c.execute(statement)
        c.execute("INSERT INTO script_tracking.script_execution_h VALUES "
                  "('\\x00', 'before#1', 1, 'before', 'DEPLOYMENT', now(), 'by hand')")
    news = {"objects": objects, "connection": connection(pg, db), "preflight": False}
    checked = p.check({}, news)
    assert checked.failures == []
    hub = checked.inputs["plan"]["script_tracking.script_execution_h"]
    assert hub["action"] == "alter"
    assert any("script_execution_h_type_ck" in w for w in hub["why"]), hub["why"]
    assert "column record_source: type character varying(20) -> text" in hub["why"]
    assert "column record_source: NOT NULL" in hub["why"]
    # the views over the table go and come back around the ALTER TYPE
    assert checked.inputs["plan"]["script_tracking.ddl_history"]["action"] in ("replace", "recreate")
    assert set(checked.inputs["plan"]) == {"script_tracking.script_execution_h", "script_tracking.ddl_history",
                                           "script_tracking.script_execution_running_derived",
                                           "reader: SELECT on table script_tracking.ddl_history"}
    p.create(checked.inputs)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("SELECT script_tracking.track_operation('x', 'ADHOC')")
        names = [r[0] for r in c.execute("SELECT script_name FROM script_tracking.script_execution_h ORDER BY 1")]
    assert names == ["before", "x"]
    assert p.check({}, news).inputs["plan"] == {}


def test_objects_of_the_users_own_in_our_schemas_are_kept(pg, new_db):
    """A user's own table inside our schemas (one of them made by the user before the
    install, so adopted) survives destroy with its rows, and so do the schemas that hold
    it; every object of ours goes. (Dropping a schema is RESTRICT: never a CASCADE
    through what is not ours.)"""
    db = new_db()
    objects = _system(pg, db)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE SCHEMA util")
        c.execute("CREATE TABLE util.my_notes (note text)")
        c.execute("INSERT INTO util.my_notes VALUES ('mine')")
    p = ObjectSetProvider()
    news = {"objects": objects, "connection": connection(pg, db), "preflight": False}
    outs = p.create(p.check({}, news).inputs).outs
    assert "util" in outs["adopted"]
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE TABLE script_tracking.more_notes (note text)")
        c.execute("INSERT INTO script_tracking.more_notes VALUES ('also mine')")
    p.delete("x", outs)
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT note FROM util.my_notes").fetchall() == [("mine",)]
        assert c.execute("SELECT note FROM script_tracking.more_notes").fetchall() == [("also mine",)]
        left = c.execute("SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace IN "
                         "('util'::regnamespace, 'script_tracking'::regnamespace) AND c.relkind IN ('r', 'v') "
                         "ORDER BY 1").fetchall()
        functions = c.execute("SELECT count(*) FROM pg_proc WHERE pronamespace IN "
                              "('util'::regnamespace, 'script_tracking'::regnamespace)").fetchone()[0]
    assert left == [("script_tracking.more_notes",), ("util.my_notes",)] and functions == 0


@pytest.mark.parametrize("release", ["0.1", "0.2"])
def test_adopting_an_older_release_installed_by_psql(release, pg, new_db, tmp_path):
    """An install made with psql -f sql/install.sql of an earlier release (from this
    clone's history), with tracked executions: preview plans the upgrade, up converges
    (every object then equals a fresh install), the rows are kept, tracking works."""
    import io
    import subprocess
    import tarfile

    from tests.conftest import REPO
    from tests.e2e.test_upgrade import RELEASE_0_1, RELEASE_0_2

    commit = {"0.1": RELEASE_0_1, "0.2": RELEASE_0_2}[release]
    r = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "sql"], capture_output=True)
    assert r.returncode == 0, f"release {release} ({commit}) is not in this clone's history"
    tarfile.open(fileobj=io.BytesIO(r.stdout)).extractall(tmp_path, filter="data")
    db = new_db()
    pg.psql(db, file=tmp_path / "sql" / "install.sql")
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        hk = c.execute("SELECT script_tracking.track_operation('old', 'DEPLOYMENT')").fetchone()[0]
        c.execute("SELECT script_tracking.complete_operation(%s, true)", (hk,))
        before = c.execute("SELECT count(*) FROM script_tracking.script_execution_s").fetchone()[0]
    wanted = objects_input(desired_objects(Settings(owner_role="")))
    roles = {k: o for k, o in wanted.items() if o["kind"] == "role"}
    objects = {k: o for k, o in wanted.items() if o["kind"] != "role"}
    p = ObjectSetProvider()
    for key in creation_order(roles):  # the shared roles, as sql:Role resources
        one = {"objects": {key: roles[key]}, "connection": connection(pg, db), "preflight": False}
        p.create(p.check({}, one).inputs)
    news = {"objects": objects, "connection": connection(pg, db), "preflight": True}
    checked = p.check({}, news)
    assert checked.failures == [], [f.reason for f in checked.failures]
    assert checked.inputs["plan"], "an earlier release differs"
    p.create(checked.inputs)
    assert p.check({}, news).inputs["plan"] == {}
    fresh = new_db()
    p.create(p.check({}, {**news, "connection": connection(pg, fresh)}).inputs)
    upgraded, installed = _fingerprints(pg, db, objects), _fingerprints(pg, fresh, objects)
    assert [k for k in objects if not catalog.same(objects[k]["kind"], upgraded[k], installed[k])] == []
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM script_tracking.script_execution_s").fetchone()[0] >= before
        assert c.execute("SELECT status FROM script_tracking.get_execution_history(p_script_name => 'old')"
                         ).fetchone()[0] == "COMPLETED"
        c.execute("SELECT script_tracking.track_operation('new', 'ADHOC')")


def test_each_database_is_compared_with_its_own_render(pg, new_db):
    """The desired state is rendered once per server for a fleet, but not across what makes
    databases differ: with default privileges in one database (PUBLIC may read new tables
    there), each database's install previews no change afterwards."""
    plain, granting = new_db(), new_db()
    with psycopg.connect(pg.dsn(granting), autocommit=True) as c:
        c.execute("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC")
    objects = objects_input(load_objects(("after.sql",), CASES / "table_add_nullable_column"))
    p = ObjectSetProvider()
    for db in (plain, granting):
        news = {"objects": objects, "connection": connection(pg, db), "preflight": False}
        p.create(p.check({}, news).inputs)
    for db in (plain, granting):
        news = {"objects": objects, "connection": connection(pg, db), "preflight": False}
        assert p.check(news, news).inputs["plan"] == {}, db
