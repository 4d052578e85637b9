"""An installation of the release before the running set and the retention purge
(its sql/ from this repository's history) with history in it, upgraded through the
provider to this sql/: the plan is additive (new tables, a view, indexes and functions, two
indexes dropped, the limit table's CHECK widened), the history is kept, and with the
running set filled at its creation every filter answers as before, the purge included."""

from __future__ import annotations

import io
import subprocess
import tarfile

import psycopg
import pytest

from script_tracking.desired import Settings, desired_objects
from script_tracking.provider import ObjectSetProvider
from script_tracking.sqlsource import object_key

from tests.conftest import REPO

from .support import connection

# the last commit before the running set (issue 12)
PREVIOUS = "e305954"
# the last commit with script_tracking.ddl_tracked, which the DDL tracker's functions called
BEFORE_TAG_INDEX = "d8a43e1"


def _previous_sql(tmp_path, commit: str = PREVIOUS):
    r = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "sql"], capture_output=True)
    if r.returncode:
        pytest.fail(f"the previous release ({commit}) is not in this clone's history: {r.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "sql"


def _props(pg, db: str, settings: Settings) -> dict:
    # roles and grants are other resources in a stack (sql:Role); none are needed here
    objects = [o for o in desired_objects(settings) if o.kind not in ("role", "grant")]
    return {"objects": {object_key(o.kind, o.identity): {"kind": o.kind, "identity": o.identity,
                                                          "statements": list(o.statements),
                                                          "dependsOn": list(o.depends_on)} for o in objects},
            "connection": connection(pg, db), "preflight": False}


def test_the_previous_release_upgrades_with_its_history(pg, db, tmp_path):
    old = Settings(owner_role="", sql_dir=_previous_sql(tmp_path))
    p = ObjectSetProvider()
    outs = p.create(_props(pg, db, old)).outs
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        hks = [c.execute("SELECT track_operation(%s, 'MIGRATION')", (f"s{i}",)).fetchone()[0] for i in range(9)]
        for i, hk in enumerate(hks[:6]):
            c.execute("SELECT complete_operation(%s, %s)", (hk, i % 2 == 0))
        history = c.execute("SELECT * FROM script_tracking.get_execution_history(p_script_type => 'MIGRATION')"
                            ).fetchall()
        # DDL as that release records it: a hub row and a satellite version
        c.execute("CREATE TABLE public.before_upgrade (a int)")
        ddl_before = c.execute("SELECT * FROM script_tracking.ddl_history"
                               " WHERE object_identity = 'public.before_upgrade'").fetchall()
        assert len(ddl_before) == 1

    new = _props(pg, db, Settings(owner_role="", retention_days=30))
    diff = p.diff("x", outs, new)
    assert diff.changes
    # the preview shows the running set created, with its statements (the objects input): the fill last
    key = "script_tracking.script_execution_running"
    assert p.check(outs, new).inputs["plan"][key]["action"] == "create"
    assert new["objects"][key]["statements"][-1].startswith("INSERT INTO script_tracking.script_execution_running ")
    outs = p.update("x", outs, new).outs
    assert p.diff("x", outs, new).changes is False

    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT to_regclass('util.audit_log_resource_idx'),"
                         " to_regclass('script_tracking.script_execution_s_one_running_uq'),"
                         " to_regclass('util.audit_log_execution_idx') IS NOT NULL").fetchone() == (None, None, True)
        assert c.execute("SELECT * FROM script_tracking.get_execution_history(p_script_type => 'MIGRATION')"
                         ).fetchall() == history
        # DDL now goes to the journal; ddl_history and the history show both stores
        c.execute("CREATE TABLE public.after_upgrade (a int)")
        assert c.execute("SELECT count(*) FROM script_tracking.ddl_journal"
                         " WHERE object_identity = 'public.after_upgrade'").fetchone()[0] == 1
        assert c.execute("SELECT * FROM script_tracking.ddl_history"
                         " WHERE object_identity = 'public.before_upgrade'").fetchall() == ddl_before
        rows = c.execute("SELECT execution_id, object_identity, record_source FROM script_tracking.ddl_history"
                         " WHERE object_identity LIKE 'public.%_upgrade' ORDER BY execution_id").fetchall()
        assert [r[1:] for r in rows] == [("public.before_upgrade", "event_trigger:ddl_command_end"),
                                         ("public.after_upgrade", "event_trigger:ddl_command_end")]
        ddl = {r[1]: r for r in c.execute(
            "SELECT script_execution_hk, details ->> 'object_identity', status, script_name, execution_id"
            "  FROM script_tracking.get_execution_history(p_script_type => 'DDL', p_limit => 1000)")}
        assert ddl["public.before_upgrade"][2:] == ("COMPLETED", "AUTO_DDL_CREATE_TABLE", rows[0][0])
        assert ddl["public.after_upgrade"][2:] == ("COMPLETED", "AUTO_DDL_CREATE_TABLE", rows[1][0])
        assert bytes(ddl["public.before_upgrade"][0]) == bytes(ddl_before[0][1])

        def running() -> list:
            return [r[0] for r in c.execute("SELECT script_execution_hk FROM"
                                            " script_tracking.get_execution_history(p_status => 'RUNNING')")]

        # the running set was filled when the upgrade created it: the three still running
        assert running() == hks[8:5:-1]
        assert c.execute("SELECT script_tracking.rebuild_running_set()").fetchone()[0] == 0
        assert [r[0] for r in c.execute("SELECT script_execution_hk FROM script_tracking.get_execution_history("
                                        "p_status => 'FAILED')")] == [hks[5], hks[3], hks[1]]
        c.execute("SELECT complete_operation(%s, true)", (hks[8],))
        assert running() == hks[7:5:-1]
        # retention: the setting's row is there; everything is younger than 30 days
        assert c.execute("SELECT script_tracking.purge_executions()").fetchone()[0] == 0
        # (the upgrade's own DDL was tracked too: 9 executions and those)
        assert c.execute("SELECT script_tracking.purge_executions(interval '1 microsecond')").fetchone()[0] >= 9
        assert c.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM util.audit_log WHERE resource_type = 'SCRIPT_EXECUTION'"
                         ).fetchone()[0] == 0
    p.delete("x", outs)


def test_what_the_old_tracker_calls_is_dropped_after_it_changed(pg, db, tmp_path):
    """A function the DDL tracker's old functions call (no dependency PostgreSQL records)
    leaves the SQL: it is dropped after those functions changed, so the event triggers
    record every statement of the upgrade itself (dropped first, each later event's
    tracking failed with a warning and left a hole in the journal)."""
    p = ObjectSetProvider()
    outs = p.create(_props(pg, db, Settings(owner_role="", sql_dir=_previous_sql(tmp_path, BEFORE_TAG_INDEX)))).outs
    new = _props(pg, db, Settings(owner_role=""))
    plan = p.check(outs, new).inputs["plan"]
    tracked = "script_tracking.ddl_tracked(text, text)"
    assert plan[tracked]["action"] == "drop"
    keys = list(plan)
    assert keys.index(tracked) > keys.index("script_tracking.ddl_tracker_command_end()"), keys
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        start = c.execute("SELECT coalesce(max(execution_id), 0) FROM script_tracking.ddl_journal").fetchone()[0]
    outs = p.update("x", outs, new).outs
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        rows = c.execute("SELECT command_tag, object_identity FROM script_tracking.ddl_journal"
                         " WHERE execution_id > %s ORDER BY execution_id", (start,)).fetchall()
    assert rows[0] == ("DROP INDEX", "script_tracking.ddl_journal_name_recent_idx"), rows
    assert ("CREATE INDEX", "script_tracking.ddl_journal_tag_recent_idx") in rows
    assert rows[-1] == ("DROP FUNCTION", "script_tracking.ddl_tracked(pg_catalog.text,pg_catalog.text)"), rows
    p.delete("x", outs)
