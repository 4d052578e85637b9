"""The seed's validation SQL (DEPLOYMENT_INSTRUCTIONS.md), verbatim, against a
psql-installed database: through psycopg as an application runs it, and through
psql as the seed's users run it."""

from __future__ import annotations

from tests.sql import seed_sql
from tests.sql.conftest import Notices, counts, ddl_rows, max_execution_id


def test_seed_test1_basic_tracking(installed_db, connect):
    conn = connect(installed_db)
    hk = conn.execute(seed_sql.TEST1_BASIC_TRACKING).fetchone()[0]
    assert isinstance(hk, bytes) and len(hk) == 32
    row = conn.execute(
        "SELECT h.script_name, h.script_type, s.status, s.version_number"
        "  FROM script_tracking.script_execution_h h JOIN script_tracking.script_execution_s s USING (script_execution_hk)"
        " WHERE h.script_execution_hk = %s", (hk,)).fetchall()
    assert [r[:3] for r in row] == [("Test Script", "MAINTENANCE", "RUNNING")]
    assert counts(conn) == (1, 1, 1)
    # running it again is a new execution, no duplicate key
    hk2 = conn.execute(seed_sql.TEST1_BASIC_TRACKING).fetchone()[0]
    assert hk2 != hk
    assert counts(conn) == (2, 2, 2)


def test_seed_test2_event_trigger_tracks_create_and_drop_once(installed_db, connect):
    conn = connect(installed_db)
    notes = Notices(conn)
    before = max_execution_id(conn)
    for stmt in seed_sql.TEST2_STATEMENTS:
        conn.execute(stmt)
    assert ddl_rows(conn, before) == [
        ("CREATE TABLE", "table", "public.test_tracking_table"),
        ("DROP TABLE", "table", "public.test_tracking_table"),
    ]
    # exactly one execution per statement, each COMPLETED
    assert conn.execute(
        "SELECT count(*), count(DISTINCT script_execution_hk), min(status), max(status)"
        "  FROM script_tracking.get_execution_history(p_script_type => 'DDL')").fetchone() == (
        2, 2, "COMPLETED", "COMPLETED")
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_journal").fetchone()[0] == 2
    assert notes.warnings() == []


def test_seed_test2_as_one_script(installed_db, connect, psql):
    """Both statements sent as one script by psql: still one record each, with its own statement text."""
    psql(installed_db, command=seed_sql.TEST2_EVENT_TRIGGER)
    conn = connect(installed_db)
    rows = conn.execute("SELECT command_tag, object_identity, statement FROM script_tracking.ddl_history"
                        " ORDER BY execution_id").fetchall()
    assert [r[:2] for r in rows] == [("CREATE TABLE", "public.test_tracking_table"),
                                     ("DROP TABLE", "public.test_tracking_table")]
    assert all(r[2] for r in rows)


def test_seed_test3_view_history(installed_db, connect):
    conn = connect(installed_db)
    conn.execute(seed_sql.TEST1_BASIC_TRACKING)
    for stmt in seed_sql.TEST2_STATEMENTS:
        conn.execute(stmt)
    cur = conn.execute(seed_sql.TEST3_VIEW_HISTORY)
    cols = [d.name for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    assert len(rows) == 3
    assert [r["script_name"] for r in rows] == ["AUTO_DDL_DROP_TABLE", "AUTO_DDL_CREATE_TABLE", "Test Script"]
    assert rows[-1]["status"] == "RUNNING"
    for c in ("script_execution_hk", "script_type", "status", "start_time", "end_time", "duration",
              "db_session_user", "client_addr", "application_name", "details"):
        assert c in cols
    assert "session_user" not in cols


def test_seed_final_verification(installed_db, connect):
    conn = connect(installed_db)
    notes = Notices(conn)
    conn.execute(seed_sql.FINAL_VERIFICATION)
    assert seed_sql.FINAL_VERIFICATION_NOTICE in notes.messages()
    rows = conn.execute(
        "SELECT s.status FROM script_tracking.script_execution_h h JOIN script_tracking.script_execution_s s"
        " USING (script_execution_hk) WHERE h.script_name = 'Deployment Verification Test'"
        " ORDER BY s.version_number").fetchall()
    assert rows == [("RUNNING",), ("COMPLETED",)]
    assert conn.execute("SELECT array_agg(event_type ORDER BY id) FROM util.audit_log").fetchone()[0] == [
        "SCRIPT_EXECUTION_STARTED", "SCRIPT_EXECUTION_COMPLETED"]


def test_seed_validation_through_psql(installed_db, psql, tmp_path):
    """The whole validation section as a user pastes it into psql."""
    script = "\n".join([seed_sql.TEST1_BASIC_TRACKING, seed_sql.TEST2_EVENT_TRIGGER,
                        seed_sql.TEST3_VIEW_HISTORY, seed_sql.FINAL_VERIFICATION])
    path = tmp_path / "validation.sql"
    path.write_text(script + "\n")
    r = psql(installed_db, file=path)
    assert r.returncode == 0
    assert "ERROR" not in r.stderr and "WARNING" not in r.stderr
    assert seed_sql.FINAL_VERIFICATION_NOTICE in r.stderr


def test_audit_function_untyped_literals(installed_db, connect):
    conn = connect(installed_db)
    new_id = conn.execute("SELECT util.log_audit_event('A','B','C','D','{}')").fetchone()[0]
    assert conn.execute("SELECT event_type, resource_type, resource_id, actor, details FROM util.audit_log"
                        " WHERE id = %s", (new_id,)).fetchone() == ("A", "B", "C", "D", {})
