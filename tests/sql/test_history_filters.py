"""get_execution_history: every filter, alone and combined, returns what a naive query
over the same data returns (latest version per execution, newest first); the rare
statuses are read through their own indexes; the running set follows the executions."""

from __future__ import annotations

import itertools
import time

import psycopg
import pytest

from tests.sql.conftest import Notices, legacy_ddl

COLUMNS = ("script_execution_hk, execution_id, script_name, script_type, status, version_number, start_time, "
           "end_time, duration, error_message, db_session_user, client_addr, application_name, details, record_source")

# The meaning of the function, written the obvious way: each execution's latest version
# (highest version_number), filtered, newest first by start (the hub's load_date); and
# each row of the DDL journal, a COMPLETED execution of type DDL (its key 'DDL' and the id).
NAIVE = f"""
SELECT {COLUMNS} FROM (
    (SELECT DISTINCT ON (h.script_execution_hk)
           h.script_execution_hk, h.execution_id, h.script_name, h.script_type, s.status, s.version_number,
           s.start_time, s.end_time, s.duration, s.error_message, s.db_session_user, s.client_addr,
           s.application_name, s.details, h.record_source, h.load_date
      FROM script_tracking.script_execution_h h
      JOIN script_tracking.script_execution_s s ON s.script_execution_hk = h.script_execution_hk
     ORDER BY h.script_execution_hk, s.version_number DESC)
    UNION ALL
    SELECT 'DDL'::bytea || int8send(j.execution_id), j.execution_id,
           'AUTO_DDL_' || replace(j.command_tag, ' ', '_'), 'DDL', 'COMPLETED', j.version_number,
           j.executed_at, j.end_time, j.end_time - j.executed_at, NULL, j.db_session_user, j.client_addr,
           j.application_name,
           jsonb_build_object('event', j.event, 'command_tag', j.command_tag, 'object_type', j.object_type,
                              'object_identity', j.object_identity, 'schema_name', j.schema_name,
                              'statement', j.statement)
           || CASE WHEN j.event = 'sql_drop'
                   THEN jsonb_build_object('is_temporary', j.is_temporary, 'cascaded', j.cascaded)
                   ELSE jsonb_build_object('in_extension', j.in_extension) END,
           'event_trigger:' || j.event, j.executed_at
      FROM script_tracking.ddl_journal j) x
 WHERE (%(name)s::text IS NULL OR x.script_name = %(name)s)
   AND (%(type)s::text IS NULL OR x.script_type = upper(%(type)s))
   AND (%(status)s::text IS NULL OR x.status = upper(%(status)s))
   AND (%(from)s::timestamptz IS NULL OR x.load_date >= %(from)s)
   AND (%(to)s::timestamptz IS NULL OR x.load_date < %(to)s)
 ORDER BY x.load_date DESC, x.execution_id DESC
 LIMIT %(limit)s
"""

CALL = f"""SELECT {COLUMNS} FROM script_tracking.get_execution_history(
    p_script_name => %(name)s, p_script_type => %(type)s, p_status => %(status)s,
    p_from => %(from)s, p_to => %(to)s, p_limit => %(limit)s)"""


def _track(conn, n: int, start: int = 0) -> list[bytes]:
    """n executions of 4 names and 3 types; of every 7: 1 left running, 2 failed, the rest
    completed (the completions in another order than the starts)."""
    names, types = ("alpha", "beta", "gamma", "delta"), ("MIGRATION", "DEPLOYMENT", "VALIDATION")
    hks = [conn.execute("SELECT script_tracking.track_operation(%s, %s)",
                        (names[i % 4], types[(i // 4) % 3])).fetchone()[0] for i in range(start, start + n)]
    for i in reversed(range(n)):
        k = (start + i) % 7
        if k == 0:
            continue
        conn.execute("SELECT script_tracking.complete_operation(%s, %s, %s)",
                     (hks[i], k > 2, None if k > 2 else f"failure {i}"))
    return hks


@pytest.fixture
def history_db(installed_db, connect):
    conn = connect(installed_db)
    _track(conn, 70)
    # DDL executions are history too: journal rows, and (an installation upgraded from a
    # release before the journal) hub rows with one COMPLETED version each
    conn.execute("CREATE TABLE public.tracked_early (a int)")
    legacy_ddl(conn, "CREATE TABLE", "table", "public.legacy")
    legacy_ddl(conn, "DROP TABLE", "table", "public.legacy")
    time.sleep(0.01)
    _track(conn, 35, start=70)
    conn.execute("CREATE TABLE public.tracked_in_between (a int)")
    _track(conn, 35, start=105)
    conn.execute("DROP TABLE public.tracked_in_between")
    conn.execute("ANALYZE")
    return installed_db


def test_every_filter_combination_matches_the_naive_query(history_db, connect):
    conn = connect(history_db)
    dates = [r[0] for r in conn.execute(
        "SELECT load_date FROM script_tracking.script_execution_h ORDER BY load_date").fetchall()]
    lo, hi = dates[len(dates) // 4], dates[3 * len(dates) // 4]
    checked = nonempty = 0
    for name, typ, status, (frm, to), limit in itertools.product(
            (None, "beta", "nobody", "AUTO_DDL_CREATE_TABLE", "AUTO_DDL_DROP_TABLE"), (None, "migration", "DDL"), (None, "RUNNING", "completed", "FAILED"),
            ((None, None), (lo, None), (None, hi), (lo, hi)), (100, 3, 0)):
        params = {"name": name, "type": typ, "status": status, "from": frm, "to": to, "limit": limit}
        got = conn.execute(CALL, params).fetchall()
        want = conn.execute(NAIVE, params).fetchall()
        assert got == want, params
        checked += 1
        nonempty += bool(want)
    assert checked == 5 * 3 * 4 * 4 * 3
    assert nonempty > 100  # the data exercises most combinations
    # each status shows up, with its latest version
    by_status = dict(conn.execute("SELECT status, count(*) FROM script_tracking.get_execution_history("
                                  "p_limit => 1000) GROUP BY status").fetchall())
    assert by_status == {"RUNNING": 20, "FAILED": 40, "COMPLETED": 80 + 3 + 2}
    # the DDL of both stores, by name, type and time
    ddl = conn.execute("SELECT script_name, record_source, details ->> 'object_identity' FROM"
                       " script_tracking.get_execution_history(p_script_type => 'DDL')").fetchall()
    assert ddl == [("AUTO_DDL_DROP_TABLE", "event_trigger:sql_drop", "public.tracked_in_between"),
                   ("AUTO_DDL_CREATE_TABLE", "event_trigger:ddl_command_end", "public.tracked_in_between"),
                   ("AUTO_DDL_DROP_TABLE", "event_trigger:sql_drop", "public.legacy"),
                   ("AUTO_DDL_CREATE_TABLE", "event_trigger:ddl_command_end", "public.legacy"),
                   ("AUTO_DDL_CREATE_TABLE", "event_trigger:ddl_command_end", "public.tracked_early")]


def test_latest_version_decides_the_status(history_db, connect):
    """An execution whose FAILED version is followed by a later one is no longer FAILED
    (written by hand: the functions never do that, the semantics hold anyway)."""
    conn = connect(history_db)
    hk, = conn.execute("SELECT script_execution_hk FROM script_tracking.get_execution_history("
                       "p_status => 'FAILED', p_limit => 1)").fetchone()
    conn.execute("""INSERT INTO script_tracking.script_execution_s
        (script_execution_hk, record_source, script_name, script_type, status, start_time, db_session_user)
        SELECT script_execution_hk, 'test', script_name, script_type, 'RUNNING', start_time, 'postgres'
          FROM script_tracking.script_execution_s WHERE script_execution_hk = %s AND status = 'FAILED'""", (hk,))
    failed = [r[0] for r in conn.execute(
        "SELECT script_execution_hk FROM script_tracking.get_execution_history(p_status => 'FAILED', p_limit => 1000)")]
    assert hk not in failed and len(failed) == 39
    # (it is not in the running set, so only the full history shows it running)
    assert dict(conn.execute("SELECT script_execution_hk, status FROM script_tracking.get_execution_history("
                             "p_limit => 1000)").fetchall())[hk] == "RUNNING"


def test_running_set_follows_track_and_complete(installed_db, connect):
    conn = connect(installed_db)

    def running() -> set[bytes]:
        return {r[0] for r in conn.execute("SELECT script_execution_hk FROM script_tracking.script_execution_running")}

    a = conn.execute("SELECT track_operation('a', 'ADHOC')").fetchone()[0]
    b = conn.execute("SELECT track_operation('b', 'ADHOC')").fetchone()[0]
    assert running() == {a, b}
    conn.execute("SELECT complete_operation(%s, true)", (a,))
    assert running() == {b}
    with pytest.raises(psycopg.Error) as exc:  # a failed completion leaves it
        conn.execute("SELECT complete_operation(%s, true, %s)", (b, "x" * 70000))
    assert exc.value.sqlstate == "ST008" and running() == {b}
    conn.execute("SELECT complete_operation(%s, false, 'boom')", (b,))
    assert running() == set()
    conn.execute("CREATE TABLE public.not_running (a int)")  # DDL is never running
    assert running() == set()


def test_rebuild_running_set_after_an_upgrade(history_db, connect):
    """An installation from before the running set: the set is empty at first;
    rebuild_running_set() fills it with exactly the executions still running."""
    conn = connect(history_db)
    want = conn.execute(NAIVE, {"name": None, "type": None, "status": "RUNNING", "from": None, "to": None,
                                "limit": 1000}).fetchall()
    assert len(want) == 20
    conn.execute("DELETE FROM script_tracking.script_execution_running")
    # a stale row (an execution completed since) is dropped too
    done = conn.execute("SELECT script_execution_hk, load_date, execution_id FROM script_tracking.script_execution_h"
                        " h WHERE record_source = 'script_tracking.track_operation' AND EXISTS (SELECT 1 FROM"
                        " script_tracking.script_execution_s s WHERE s.script_execution_hk = h.script_execution_hk"
                        " AND s.status = 'COMPLETED') LIMIT 1").fetchone()
    conn.execute("INSERT INTO script_tracking.script_execution_running VALUES (%s, %s, %s)", done)
    assert conn.execute(CALL, {"name": None, "type": None, "status": "RUNNING", "from": None, "to": None,
                               "limit": 1000}).fetchall() == []
    assert conn.execute("SELECT script_tracking.rebuild_running_set()").fetchone()[0] == 20
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_running").fetchone()[0] == 20
    assert conn.execute(CALL, {"name": None, "type": None, "status": "RUNNING", "from": None, "to": None,
                               "limit": 1000}).fetchall() == want
    assert conn.execute("SELECT script_tracking.rebuild_running_set()").fetchone()[0] == 0


def test_rare_statuses_are_read_through_their_indexes(installed_db, connect):
    """The plans (auto_explain of the function's query) on a few thousand executions:
    FAILED walks the satellite's FAILED indexes, RUNNING the running set; neither scans
    the hub or the satellite."""
    conn = connect(installed_db)
    conn.execute("""
        DO $$
        DECLARE hk bytea;
        BEGIN
          FOR i IN 1..3000 LOOP
            hk := script_tracking.track_operation('bulk ' || (i % 50), (ARRAY['MIGRATION','ADHOC'])[1 + i % 2]);
            IF i % 500 <> 0 THEN PERFORM script_tracking.complete_operation(hk, i % 97 <> 0); END IF;
          END LOOP;
        END $$""")
    conn.execute("ANALYZE")
    notes = Notices(conn)
    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET auto_explain.log_level = 'notice'")
    mid = conn.execute("SELECT load_date FROM script_tracking.script_execution_h ORDER BY load_date"
                       " OFFSET 1500 LIMIT 1").fetchone()[0]
    cases = {
        "FAILED": ("p_status => 'FAILED'", "script_execution_s_failed_recent_idx"),
        "FAILED + name": ("p_status => 'FAILED', p_script_name => 'bulk 47'", "script_execution_s_failed_name_idx"),
        "FAILED + type": ("p_status => 'FAILED', p_script_type => 'ADHOC'", "script_execution_s_failed_"),
        "FAILED + range": ("p_status => 'FAILED', p_from => %(mid)s, p_to => %(mid)s + interval '1 hour'",
                           "script_execution_s_failed_"),
        "RUNNING": ("p_status => 'RUNNING'", "script_execution_running"),
        "RUNNING + name": ("p_status => 'RUNNING', p_script_name => 'bulk 0'", "script_execution_running"),
        # filters no DDL can match leave the DDL journal alone
        "name": ("p_script_name => 'bulk 47'", "script_execution_h_name_recent_idx"),
        "type": ("p_script_type => 'ADHOC'", "script_execution_h_"),
        "COMPLETED + name": ("p_status => 'COMPLETED', p_script_name => 'bulk 3'", "script_execution_h_name_recent_idx"),
    }
    for label, (args, index) in cases.items():
        notes.clear()
        rows = conn.execute(f"SELECT * FROM script_tracking.get_execution_history({args})", {"mid": mid}).fetchall()
        assert rows or label == "FAILED + range", label
        plan = next((m for m in notes.messages() if "LATERAL" in m), None)
        assert plan, notes.messages()
        assert index in plan, f"{label}:\n{plan}"
        assert "Seq Scan on script_execution_h" not in plan and "Seq Scan on script_execution_s" not in plan, \
            f"{label}:\n{plan}"
        assert "ddl_journal" not in plan, f"{label}:\n{plan}"
    # with no filter, the journal is merged in: read newest first by its key, at most p_limit rows
    conn.execute("CREATE TABLE public.one_ddl (a int)")
    notes.clear()
    rows = conn.execute("SELECT * FROM script_tracking.get_execution_history(p_limit => 5)").fetchall()
    plan = next((m for m in notes.messages() if "LATERAL" in m), None)
    assert rows[0][2] == "AUTO_DDL_CREATE_TABLE" and len(rows) == 5
    assert "ddl_journal" in plan and "script_execution_h_recent_idx" in plan, plan
    # DDL by name: the journal through its name index, not a walk of every DDL row
    conn.execute("DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE 'CREATE TABLE public.t' || i || ' (a int)'; END LOOP; END $$")
    conn.execute("CREATE VIEW public.rare_view AS SELECT 1 AS a")
    conn.execute("ANALYZE script_tracking.ddl_journal")
    notes.clear()
    rows = conn.execute("SELECT script_name, details ->> 'object_identity' FROM script_tracking.get_execution_history("
                        "p_script_name => 'AUTO_DDL_CREATE_VIEW')").fetchall()
    plan = next((m for m in notes.messages() if "LATERAL" in m), None)
    assert rows == [("AUTO_DDL_CREATE_VIEW", "public.rare_view")]
    assert "ddl_journal_tag_recent_idx" in plan and "Seq Scan on ddl_journal" not in plan, plan
