"""track_operation / complete_operation / get_execution_history: behaviour,
errors (documented SQLSTATEs, nothing half-written) and the history plan."""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest

from tests.sql.conftest import Notices, counts


def _one(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


@pytest.mark.parametrize(
    "call, params, sqlstate",
    [
        ("SELECT script_tracking.track_operation(%s, 'MAINTENANCE')", (None,), "ST001"),
        ("SELECT script_tracking.track_operation(%s, 'MAINTENANCE')", ("",), "ST001"),
        ("SELECT script_tracking.track_operation(%s, 'MAINTENANCE')", ("   ",), "ST001"),
        ("SELECT script_tracking.track_operation(%s, 'MAINTENANCE')", (" \t\r\n",), "ST001"),
        ("SELECT util.log_audit_event(%s, 'R', 'x', NULL, NULL)", (None,), "ST006"),
        ("SELECT util.log_audit_event(%s, 'R', 'x', NULL, NULL)", ("\t\n",), "ST006"),
        ("SELECT util.log_audit_event('E', %s, 'x', NULL, NULL)", ("",), "ST006"),
        ("SELECT util.log_audit_event('E', %s, 'x', NULL, NULL)", (" \n ",), "ST006"),
        ("SELECT track_operation(%s::text, 'MAINTENANCE')", (None,), "ST001"),
        ("SELECT script_tracking.track_operation(%s, 'MAINTENANCE')", ("x" * 256,), "ST002"),
        ("SELECT track_operation(%s, 'MAINTENANCE')", ("é" * 300,), "ST002"),
        ("SELECT script_tracking.track_operation('s', %s)", ("NO_SUCH_TYPE",), "ST003"),
        ("SELECT script_tracking.track_operation('s', %s)", (None,), "ST003"),
        ("SELECT track_operation('s', %s)", ("",), "ST003"),
        ("SELECT script_tracking.track_operation('s', 'ADHOC', %s::jsonb)", ("[1,2]",), "ST006"),
        ("SELECT script_tracking.complete_operation(%s, true)", (None,), "ST004"),
        ("SELECT complete_operation(%s::bytea, true, NULL)", (None,), "ST004"),
        ("SELECT script_tracking.complete_operation(%s, true)", (b"\x00" * 32,), "ST004"),
        ("SELECT complete_operation(%s, false, 'boom')", (b"nope",), "ST004"),
        ("SELECT script_tracking.get_execution_history(p_script_type => %s)", ("BOGUS",), "ST003"),
        ("SELECT script_tracking.get_execution_history(p_status => %s)", ("DONE",), "ST006"),
        ("SELECT script_tracking.get_execution_history(p_limit => %s)", (-1,), "ST006"),
    ],
)
def test_bad_inputs_raise_documented_sqlstate(installed_db, connect, call, params, sqlstate):
    conn = connect(installed_db)
    conn.execute("SELECT script_tracking.track_operation('existing', 'ADHOC')")
    before = counts(conn)
    with pytest.raises(psycopg.Error) as exc:
        conn.execute(call, params)
    assert exc.value.sqlstate == sqlstate, exc.value
    assert exc.value.diag.message_primary  # a clear message, not empty
    assert counts(conn) == before


def test_name_limits_are_exact(installed_db, connect):
    conn = connect(installed_db)
    hk = _one(conn, "SELECT script_tracking.track_operation(%s, 'adhoc')", ("n" * 255,))
    assert _one(conn, "SELECT script_type FROM script_tracking.script_execution_h WHERE script_execution_hk = %s",
                (hk,)) == "ADHOC"


def test_complete_twice_is_st005_and_writes_nothing(installed_db, connect):
    conn = connect(installed_db)
    hk = _one(conn, "SELECT track_operation('twice', 'MIGRATION')")
    conn.execute("SELECT complete_operation(%s, false, 'disk full')", (hk,))
    before = counts(conn)
    for success in (True, False):
        with pytest.raises(psycopg.Error) as exc:
            conn.execute("SELECT script_tracking.complete_operation(%s, %s)", (hk, success))
        assert exc.value.sqlstate == "ST005"
        assert "already completed" in exc.value.diag.message_primary
    assert counts(conn) == before
    rows = conn.execute("SELECT status, error_message, end_time IS NOT NULL, duration >= '0'::interval"
                        " FROM script_tracking.script_execution_s WHERE script_execution_hk = %s"
                        " ORDER BY version_number", (hk,)).fetchall()
    assert rows == [("RUNNING", None, False, None), ("FAILED", "disk full", True, True)]


# after the first completion, by hand: a version after the final one (the latest is RUNNING
# again), or a running-set row left behind by a completion that ran with the previous
# release's functions during an upgrade (or a rebuild_running_set in REPEATABLE READ racing one)
LATER_VERSION = """INSERT INTO script_tracking.script_execution_s
    (script_execution_hk, record_source, script_name, script_type, status, start_time, db_session_user)
    SELECT script_execution_hk, 'by hand', script_name, script_type, 'RUNNING', start_time, session_user
      FROM script_tracking.script_execution_s WHERE script_execution_hk = %s AND status <> 'RUNNING'"""
STALE_RUNNING_ROW = """INSERT INTO script_tracking.script_execution_running (script_execution_hk, load_date, execution_id)
    SELECT script_execution_hk, load_date, execution_id FROM script_tracking.script_execution_h
     WHERE script_execution_hk = %s"""


@pytest.mark.parametrize("success, tamper", [(True, LATER_VERSION), (False, STALE_RUNNING_ROW)],
                         ids=["later version", "stale running-set row"])
def test_the_final_version_decides_a_second_completion(installed_db, connect, success, tamper):
    """Whatever else there is, an execution with a final version is completed: ST005 (not
    the one-final index's 23505), and nothing written."""
    conn = connect(installed_db)
    hk = _one(conn, "SELECT track_operation('twice', 'ADHOC')")
    conn.execute("SELECT complete_operation(%s, %s)", (hk, success))
    conn.execute(tamper, (hk,))
    before = counts(conn)
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("SELECT script_tracking.complete_operation(%s, %s, 'again')", (hk, not success))
    assert exc.value.sqlstate == "ST005"
    status = "COMPLETED" if success else "FAILED"
    assert f"already completed (status {status})" in exc.value.diag.message_primary
    assert counts(conn) == before


def test_hash_keys_grow_with_the_execution_id_and_are_not_derivable(installed_db, connect):
    conn = connect(installed_db)
    keys = [_one(conn, "SELECT track_operation('same name', 'ADHOC')") for _ in range(3)]
    ids = [_one(conn, "SELECT execution_id FROM script_tracking.script_execution_h WHERE script_execution_hk = %s",
                (k,)) for k in keys]
    assert all(len(k) == 32 and k[:8] == i.to_bytes(8, "big") for k, i in zip(keys, ids))
    assert keys == sorted(keys)  # new keys go to the right edge of the indexes on them
    # the rest is random: the same name and id would not give the same key again
    again = _one(conn, "SELECT substr(sha256(convert_to(%s || '#' || gen_random_uuid()::text, 'UTF8')), 1, 24)",
                 (f"same name#{ids[0]}",))
    assert len({bytes(k[8:]) for k in keys} | {bytes(again)}) == 4


@pytest.mark.parametrize("started_before_running_set", [False, True])
def test_concurrent_complete_of_same_execution_only_one_wins(installed_db, connect, started_before_running_set):
    """Two sessions complete the same execution at once: exactly one succeeds. Also for an
    execution started before the running set existed (no row there: the hub row lock
    serializes the completers)."""
    setup = connect(installed_db)
    for _ in range(20):
        hk = _one(setup, "SELECT track_operation('race', 'ADHOC')")
        if started_before_running_set:
            setup.execute("DELETE FROM script_tracking.script_execution_running WHERE script_execution_hk = %s", (hk,))
        a = connect(installed_db, autocommit=False)
        b = connect(installed_db, autocommit=False)
        a.execute("SELECT complete_operation(%s, true)", (hk,))  # holds the hub row lock
        result: dict = {}

        def other():
            try:
                b.execute("SELECT complete_operation(%s, false)", (hk,))
                result["b"] = "ok"
            except psycopg.Error as e:
                result["b"] = e.sqlstate
            b.rollback()

        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.05)
        a.commit()
        t.join(10)
        assert result["b"] == "ST005"
        a.close(), b.close()
    assert _one(setup, "SELECT count(*) FROM script_tracking.script_execution_s WHERE status <> 'RUNNING'") == 20
    assert _one(setup, "SELECT count(*) FROM script_tracking.script_execution_running") == 0


@pytest.mark.parametrize("started_before_running_set", [False, True])
def test_repeatable_read_double_complete_is_a_serialization_failure(installed_db, connect,
                                                                    started_before_running_set):
    """The second completion's snapshot was taken before the first committed: 40001 (also
    for an execution without a running-set row, started by the previous release while an
    upgrade ran: not the one-final index's 23505), and one final version."""
    conn = connect(installed_db)
    hk = _one(conn, "SELECT track_operation('rr', 'ADHOC')")
    if started_before_running_set:
        conn.execute("DELETE FROM script_tracking.script_execution_running WHERE script_execution_hk = %s", (hk,))
    a = connect(installed_db, autocommit=False)
    b = connect(installed_db, autocommit=False)
    b.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    b.execute("SELECT 1 FROM script_tracking.get_execution_history(p_limit => 1)")  # take the snapshot
    a.execute("SELECT complete_operation(%s, true)", (hk,))
    a.commit()
    with pytest.raises(psycopg.Error) as exc:
        b.execute("SELECT complete_operation(%s, false)", (hk,))
    assert exc.value.sqlstate == "40001"
    b.rollback()
    assert _one(conn, "SELECT array_agg(status ORDER BY version_number) FROM script_tracking.script_execution_s"
                      " WHERE script_execution_hk = %s", (hk,)) == ["RUNNING", "COMPLETED"]


def test_track_and_complete_record_everything(installed_db, connect):
    conn = connect(installed_db)
    conn.execute("SET application_name = 'deployer-7'")
    hk = _one(conn, "SELECT script_tracking.track_operation('deploy v1', 'Deployment', '{\"ticket\": \"OPS-1\"}')")
    time.sleep(0.01)
    conn.execute("SELECT script_tracking.complete_operation(%s, true)", (hk,))
    h = conn.execute("SELECT script_execution_bk, execution_id, script_name, script_type, record_source,"
                     # not derivable from the business key: it has a random part
                     " script_execution_hk <> sha256(convert_to(script_execution_bk, 'UTF8'))"
                     " FROM script_tracking.script_execution_h").fetchone()
    assert h[0] == f"deploy v1#{h[1]}" and h[2:] == ("deploy v1", "DEPLOYMENT", "script_tracking.track_operation", True)
    rows = conn.execute(
        "SELECT status, db_session_user, host(client_addr), application_name, details, duration > '0'::interval,"
        " end_time - start_time = duration FROM script_tracking.script_execution_s ORDER BY version_number").fetchall()
    assert rows[0][:5] == ("RUNNING", "postgres", "127.0.0.1", "deployer-7", {"ticket": "OPS-1"})
    assert rows[1] == ("COMPLETED", "postgres", "127.0.0.1", "deployer-7", {"ticket": "OPS-1"}, True, True)
    audit = conn.execute("SELECT event_type, resource_type, resource_id, actor, details->>'status'"
                         " FROM util.audit_log ORDER BY id").fetchall()
    assert audit == [("SCRIPT_EXECUTION_STARTED", "SCRIPT_EXECUTION", hk.hex(), "postgres", "RUNNING"),
                     ("SCRIPT_EXECUTION_COMPLETED", "SCRIPT_EXECUTION", hk.hex(), "postgres", "COMPLETED")]


def test_history_latest_version_newest_first_and_filters(installed_db, connect):
    conn = connect(installed_db)
    hks = {}
    for i, (name, typ) in enumerate([("a", "MAINTENANCE"), ("b", "MIGRATION"), ("a", "MIGRATION"),
                                     ("c", "VALIDATION"), ("a", "MAINTENANCE")]):
        hks[i] = _one(conn, "SELECT track_operation(%s, %s)", (name, typ))
    conn.execute("SELECT complete_operation(%s, true)", (hks[0],))
    conn.execute("SELECT complete_operation(%s, false, 'x')", (hks[2],))
    mid = _one(conn, "SELECT load_date FROM script_tracking.script_execution_h WHERE script_execution_hk = %s",
               (hks[2],))

    def hist(**kw):
        args = ", ".join(f"{k} => %({k})s" for k in kw)
        return [(r[0], r[1]) for r in conn.execute(
            f"SELECT script_execution_hk, status FROM script_tracking.get_execution_history({args})", kw)]

    order = [hks[i] for i in (4, 3, 2, 1, 0)]
    assert [hk for hk, _ in hist()] == order
    assert dict(hist())[hks[0]] == "COMPLETED" and dict(hist())[hks[2]] == "FAILED"
    assert dict(hist())[hks[1]] == "RUNNING"
    assert [hk for hk, _ in hist(p_script_name="a")] == [hks[4], hks[2], hks[0]]
    assert [hk for hk, _ in hist(p_script_type="migration")] == [hks[2], hks[1]]
    assert hist(p_status="failed") == [(hks[2], "FAILED")]
    assert [hk for hk, _ in hist(p_status="RUNNING")] == [hks[4], hks[3], hks[1]]
    assert [hk for hk, _ in hist(p_from=mid)] == [hks[4], hks[3], hks[2]]
    assert [hk for hk, _ in hist(p_to=mid)] == [hks[1], hks[0]]
    assert [hk for hk, _ in hist(p_limit=2)] == order[:2]
    assert hist(p_limit=0) == []
    assert [hk for hk, _ in hist(p_limit=None)] == order
    assert hist(p_script_name="a", p_script_type="MAINTENANCE", p_status="COMPLETED") == [(hks[0], "COMPLETED")]
    assert hist(p_script_name="zzz") == []


def test_history_default_call_is_index_driven(installed_db, connect, pg_version):
    """EXPLAIN (via auto_explain of the function's nested query) on a few thousand
    executions: no sequential scan of the satellite or the hub, top-N via indexes."""
    conn = connect(installed_db)
    conn.execute("""
        DO $$
        DECLARE hk bytea;
        BEGIN
          FOR i IN 1..3000 LOOP
            hk := script_tracking.track_operation('bulk ' || (i % 50), 'MAINTENANCE');
            IF i % 3 <> 0 THEN PERFORM script_tracking.complete_operation(hk, i % 7 <> 0); END IF;
          END LOOP;
        END $$""")
    conn.execute("ANALYZE script_tracking.script_execution_h")
    conn.execute("ANALYZE script_tracking.script_execution_s")
    notes = Notices(conn)
    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET auto_explain.log_level = 'notice'")
    plans = {}
    for label, sql in [("default", "SELECT * FROM script_tracking.get_execution_history()"),
                       ("by name", "SELECT * FROM script_tracking.get_execution_history('bulk 7')"),
                       ("by type", "SELECT * FROM script_tracking.get_execution_history(p_script_type => 'MAINTENANCE', p_limit => 10)")]:
        notes.clear()
        rows = conn.execute(sql).fetchall()
        assert rows
        nested = [m for m in notes.messages() if "script_execution_s" in m and "LATERAL" in m]
        assert nested, notes.messages()
        plans[label] = nested[0]
    for label, plan in plans.items():
        assert "Seq Scan" not in plan, f"{label}:\n{plan}"
        assert "script_execution_s_pk" in plan, plan
    # the default call walks the hub newest-first: Limit directly over the ordered join, no Sort
    # (the DDL journal's newest rows merged in by a Merge Append, ordered by its key)
    assert not re.search(r"->  (Incremental )?Sort|^(Incremental )?Sort", plans["default"], re.M), plans["default"]
    assert "script_execution_h_recent_idx" in plans["default"], plans["default"]
    assert "script_execution_h_name_recent_idx" in plans["by name"], plans["by name"]
    # (all rows have that type here, so walking either index newest-first is fine)
    assert re.search(r"script_execution_h_(type_)?recent_idx", plans["by type"]), plans["by type"]
