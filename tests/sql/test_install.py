"""psql install / uninstall: all-or-nothing, repeatable, leaves nothing behind."""

from __future__ import annotations

from tests.sql import seed_sql
from tests.sql.conftest import SQL_DIR

OURS = """
SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')
UNION ALL
SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('util', 'script_tracking')
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('util', 'script_tracking')
    OR (n.nspname = 'public' AND p.proname IN ('track_operation', 'complete_operation'))
UNION ALL
SELECT 'event trigger ' || evtname FROM pg_event_trigger
UNION ALL
SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname IN ('util', 'script_tracking')
ORDER BY 1
"""


def _ours(conn) -> list[str]:
    return [r[0] for r in conn.execute(OURS).fetchall()]


def test_install_creates_the_interface(installed_db, connect):
    conn = connect(installed_db)
    objs = set(_ours(conn))
    for s in ("util", "script_tracking"):
        assert f"schema {s}" in objs
    for t in seed_sql.SEED_OBJECTS["tables"] + seed_sql.SEED_OBJECTS["sequences"] + (
            "util.audit_log", "script_tracking.ddl_tracker_filter", "script_tracking.ddl_history"):
        assert f"relation {t}" in objs, t
    for f in ("util.log_audit_event(text,text,text,text,jsonb)",
              "script_tracking.track_operation(text,text,jsonb)",
              "script_tracking.complete_operation(bytea,boolean,text)",
              "script_tracking.get_execution_history(text,text,text,timestamp with time zone,"
              "timestamp with time zone,integer)",
              "track_operation(text,text,jsonb)", "complete_operation(bytea,boolean,text)"):
        assert f"function {f}" in objs, (f, sorted(objs))
    assert {"event trigger auto_ddl_tracker", "event trigger auto_ddl_tracker_drop"} <= objs
    assert conn.execute("SELECT evtevent FROM pg_event_trigger WHERE evtname = 'auto_ddl_tracker'").fetchone()[0] \
        == "ddl_command_end"
    assert conn.execute("SELECT evtevent FROM pg_event_trigger WHERE evtname = 'auto_ddl_tracker_drop'"
                        ).fetchone()[0] == "sql_drop"
    # nothing tracked or audited by the installation itself
    assert conn.execute("SELECT (SELECT count(*) FROM script_tracking.script_execution_h)"
                        " + (SELECT count(*) FROM util.audit_log)").fetchone()[0] == 0
    # the closed type list and the CHECK constraints agree
    types = conn.execute("SELECT script_tracking.valid_script_types()").fetchone()[0]
    assert {"MAINTENANCE", "VALIDATION", "DDL"} <= set(types)
    for t in types:
        conn.execute("SELECT script_tracking.track_operation('types', %s)", (t,))


def test_install_uninstall_cycles(db, connect, psql):
    conn = connect(db)
    baseline = _ours(conn)
    assert baseline == []
    for cycle in range(3):
        psql(db, file=SQL_DIR / "install.sql")
        assert len(_ours(conn)) > 20
        hk = conn.execute(seed_sql.TEST1_BASIC_TRACKING).fetchone()[0]
        conn.execute("SELECT complete_operation(%s, true)", (hk,))
        conn.execute("CREATE TABLE public.cycle_t (x int)")
        conn.execute("DROP TABLE public.cycle_t")
        assert conn.execute("SELECT count(*) FROM script_tracking.ddl_history").fetchone()[0] == 2
        r = psql(db, file=SQL_DIR / "uninstall.sql")
        assert "ERROR" not in r.stderr and "WARNING" not in r.stderr, r.stderr
        assert _ours(conn) == [], cycle
        psql(db, file=SQL_DIR / "uninstall.sql")  # twice is fine
        assert _ours(conn) == []
    # DDL works normally without the system
    conn.execute("CREATE TABLE public.after (x int)")


def test_uninstall_on_empty_database(db, psql, connect):
    psql(db, file=SQL_DIR / "uninstall.sql")
    assert _ours(connect(db)) == []


def test_install_is_all_or_nothing(db, psql, connect):
    conn = connect(db)
    conn.execute("CREATE SCHEMA script_tracking")
    conn.execute("CREATE TABLE script_tracking.script_execution_s (x int)")  # a broken old leftover
    r = psql(db, file=SQL_DIR / "install.sql", check=False)
    assert r.returncode != 0 and "already exists" in r.stderr
    # nothing of the failed install remains (util not created, no functions, no event triggers)
    assert _ours(conn) == ["relation script_tracking.script_execution_s", "schema script_tracking",
                           "type _script_execution_s", "type script_execution_s"]
    # the documented recovery: uninstall, then install
    psql(db, file=SQL_DIR / "uninstall.sql")
    psql(db, file=SQL_DIR / "install.sql")
    assert conn.execute(seed_sql.TEST1_BASIC_TRACKING).fetchone()[0]


def test_second_install_fails_cleanly(installed_db, psql, connect):
    conn = connect(installed_db)
    conn.execute(seed_sql.TEST1_BASIC_TRACKING)
    before = _ours(conn)
    r = psql(installed_db, file=SQL_DIR / "install.sql", check=False)
    assert r.returncode != 0
    assert _ours(conn) == before
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0] == 1
