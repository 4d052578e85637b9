"""script_tracking.purge_executions: what it deletes (an execution's hub row, versions,
running-set and audit rows) and nothing else, its setting, its errors and privileges,
and that it runs next to 32 tracking clients without blocking them."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

SNAPSHOT = """
SELECT (SELECT coalesce(array_agg(script_execution_hk ORDER BY script_execution_hk), '{}')
          FROM script_tracking.script_execution_h),
       (SELECT coalesce(array_agg(script_execution_hk || int8send(version_number) ORDER BY 1), '{}')
          FROM script_tracking.script_execution_s),
       (SELECT coalesce(array_agg(script_execution_hk ORDER BY 1), '{}') FROM script_tracking.script_execution_running),
       (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM util.audit_log WHERE event_type <> 'EXECUTIONS_PURGED')
"""


def _track(conn, n: int, tag: str) -> list[bytes]:
    """n executions: every third left running, the others completed or failed."""
    hks = []
    for i in range(n):
        hk = conn.execute("SELECT track_operation(%s, 'MAINTENANCE')", (f"{tag} {i % 5}",)).fetchone()[0]
        if i % 3:
            conn.execute("SELECT complete_operation(%s, %s)", (hk, i % 3 == 1))
        hks.append(hk)
    return hks


def _rows_of(conn, hks: list[bytes]) -> tuple[int, int, int, int]:
    """(hub, satellite, running, audit) rows of these executions."""
    return conn.execute(
        "SELECT (SELECT count(*) FROM script_tracking.script_execution_h WHERE script_execution_hk = ANY (%(k)s)),"
        " (SELECT count(*) FROM script_tracking.script_execution_s WHERE script_execution_hk = ANY (%(k)s)),"
        " (SELECT count(*) FROM script_tracking.script_execution_running WHERE script_execution_hk = ANY (%(k)s)),"
        " (SELECT count(*) FROM util.audit_log WHERE resource_id = ANY (%(x)s))",
        {"k": hks, "x": [h.hex() for h in hks]}).fetchone()


def _purge_all(conn, age_sql: str, params=(), batch: int = 1000) -> list[int]:
    """Call the purge until it returns 0 (each call its own transaction); the batches."""
    got = []
    while True:
        n = conn.execute(f"SELECT script_tracking.purge_executions({age_sql}, %s)", (*params, batch)).fetchone()[0]
        if not n:
            return got
        got.append(n)


def test_purge_takes_ddl_of_both_stores_within_the_batch(installed_db, connect):
    """DDL journal rows and DDL an earlier release recorded as hub rows are purged by age, in
    what a batch leaves after the hub's executions; an audit event records each batch."""
    from tests.sql.conftest import legacy_ddl
    conn = connect(installed_db)
    legacy = legacy_ddl(conn, "CREATE TABLE", "table", "public.legacy_old")
    for i in range(5):
        conn.execute(f"CREATE TABLE public.journal_old{i} (a int)")
    time.sleep(0.05)
    boundary = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    time.sleep(0.05)
    conn.execute("CREATE TABLE public.journal_new (a int)")
    batches = _purge_all(conn, "now() - %s::timestamptz", (boundary,), batch=4)
    assert batches == [4, 2]  # the legacy hub execution and 3 journal rows, then the other 2
    assert conn.execute("SELECT object_identity FROM script_tracking.ddl_history").fetchall() == [
        ("public.journal_new",)]
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_h WHERE execution_id = %s",
                        (legacy,)).fetchone()[0] == 0
    assert conn.execute("SELECT array_agg((details ->> 'executions')::int ORDER BY id) FROM util.audit_log"
                        " WHERE event_type = 'EXECUTIONS_PURGED'").fetchone()[0] == [4, 2]


def test_purge_deletes_old_executions_and_nothing_else(installed_db, connect):
    conn = connect(installed_db)
    old = _track(conn, 12, "old")
    conn.execute("CREATE TABLE public.old_ddl (a int)")  # a DDL execution, old too
    conn.execute("SELECT util.log_audit_event('MANUAL', 'SOMETHING', 'x', NULL, '{\"execution_id\": 1}')")
    time.sleep(0.05)
    boundary = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    time.sleep(0.05)
    new = _track(conn, 9, "new")
    conn.execute("CREATE TABLE public.new_ddl (a int)")
    assert _rows_of(conn, old) == (12, 20, 4, 20)
    keep = conn.execute(SNAPSHOT).fetchone()
    ddl_before = conn.execute("SELECT count(*) FROM script_tracking.ddl_history").fetchone()[0]

    batches = _purge_all(conn, "now() - %s::timestamptz", (boundary,), batch=5)
    assert batches == [5, 5, 3]                                   # 12 executions and the old DDL one
    assert _rows_of(conn, old) == (0, 0, 0, 0)
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_history").fetchone()[0] == ddl_before - 1
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_history WHERE object_identity = 'public.new_ddl'"
                        ).fetchone()[0] == 1
    # everything else is as it was: the new executions, their rows, the other audit events
    after = conn.execute(SNAPSHOT).fetchone()
    gone_hub = {bytes(h) for h in keep[0]} - {bytes(h) for h in after[0]}
    assert gone_hub >= set(old) and len(gone_hub) == 12  # (DDL is in the journal)
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_journal WHERE object_identity = 'public.old_ddl'"
                        ).fetchone()[0] == 0
    assert {bytes(h) for h in after[0]} <= {bytes(h) for h in keep[0]}
    assert set(after[1]) <= set(keep[1]) and set(after[2]) <= set(keep[2]) and set(after[3]) <= set(keep[3])
    assert _rows_of(conn, new) == (9, 15, 3, 15)
    assert conn.execute("SELECT count(*) FROM util.audit_log WHERE event_type = 'MANUAL'").fetchone()[0] == 1
    # each batch is on record
    purged = conn.execute("SELECT actor, details->>'executions' FROM util.audit_log"
                          " WHERE event_type = 'EXECUTIONS_PURGED' ORDER BY id").fetchall()
    assert purged == [("postgres", "5"), ("postgres", "5"), ("postgres", "3")]
    # the history is consistent afterwards
    assert len(conn.execute("SELECT * FROM script_tracking.get_execution_history(p_limit => 100)").fetchall()) == 10
    assert len(conn.execute("SELECT * FROM script_tracking.get_execution_history(p_status => 'RUNNING')"
                            ).fetchall()) == 3
    assert conn.execute("SELECT script_tracking.purge_executions(now() - %s::timestamptz)", (boundary,)
                        ).fetchone()[0] == 0


def test_retention_days_setting(installed_db, connect):
    conn = connect(installed_db)
    old = _track(conn, 4, "old")
    new = _track(conn, 3, "new")
    # made 10 days old by hand (the hub's load date decides; versions start when it does)
    for table, col in (("script_execution_h", "load_date"), ("script_execution_s", "start_time")):
        conn.execute(f"UPDATE script_tracking.{table} SET {col} = {col} - interval '10 days'"
                     " WHERE script_execution_hk = ANY (%s)", (old,))
    # no setting: retention is off
    assert conn.execute("SELECT script_tracking.purge_executions()").fetchone()[0] == 0
    assert _rows_of(conn, old)[0] == 4
    conn.execute("INSERT INTO script_tracking.tracking_limit VALUES ('retention_days', 30)")
    assert conn.execute("SELECT script_tracking.purge_executions()").fetchone()[0] == 0
    conn.execute("UPDATE script_tracking.tracking_limit SET value = 7 WHERE name = 'retention_days'")
    assert conn.execute("SELECT script_tracking.purge_executions()").fetchone()[0] == 4
    assert _rows_of(conn, old) == (0, 0, 0, 0) and _rows_of(conn, new)[0] == 3
    for bad in (0, 36501):
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE script_tracking.tracking_limit SET value = %s WHERE name = 'retention_days'", (bad,))


@pytest.mark.parametrize("args, sqlstate", [
    ("interval '0'", "ST006"), ("interval '-1 day'", "ST006"),
    ("interval '1 day', 0", "ST006"), ("interval '1 day', 100001", "ST006"), ("interval '1 day', NULL", "ST006"),
    ("NULL, 0", "ST006"),  # checked also while retention is off
])
def test_bad_arguments(installed_db, connect, args, sqlstate):
    conn = connect(installed_db)
    with pytest.raises(psycopg.Error) as exc:
        conn.execute(f"SELECT script_tracking.purge_executions({args})")
    assert exc.value.sqlstate == sqlstate and exc.value.diag.message_primary


def test_an_age_older_than_any_timestamp_purges_nothing(installed_db, connect):
    conn = connect(installed_db)
    conn.execute("SELECT track_operation('kept', 'ADHOC')")
    assert conn.execute("SELECT script_tracking.purge_executions(interval '300000 years')").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0] == 1


def test_only_the_owner_may_purge(installed_db, connect, pg):
    admin = connect(installed_db)
    admin.execute("CREATE ROLE purge_writer LOGIN PASSWORD 'pw'")
    admin.execute("CREATE ROLE purge_admin LOGIN PASSWORD 'pw' IN ROLE script_tracking_owner")
    admin.execute("GRANT USAGE ON SCHEMA script_tracking TO purge_writer")
    admin.execute("GRANT EXECUTE ON FUNCTION script_tracking.track_operation(text, text, jsonb) TO purge_writer")
    try:
        writer = connect(installed_db, user="purge_writer", password="pw")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("SELECT script_tracking.purge_executions(interval '1 day')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("SELECT script_tracking.rebuild_running_set()")
        member = connect(installed_db, user="purge_admin", password="pw")
        assert member.execute("SELECT script_tracking.purge_executions(interval '1 day')").fetchone()[0] == 0
    finally:
        for c in list(locals().values()):
            if isinstance(c, psycopg.Connection) and c is not admin:
                c.close()
        admin.execute("DROP OWNED BY purge_writer, purge_admin")
        admin.execute("DROP ROLE purge_writer")
        admin.execute("DROP ROLE purge_admin")


def test_purge_next_to_32_tracking_clients(installed_db, connect):
    """32 threads (their own connections) track and complete while the purge works through
    3,000 old executions: no client fails or waits long, each purge batch is short, every
    old execution goes and every new one stays whole."""
    setup = connect(installed_db)
    setup.execute("""
        DO $$
        DECLARE hk bytea;
        BEGIN
          FOR i IN 1..3000 LOOP
            hk := script_tracking.track_operation('old ' || (i % 10), 'MAINTENANCE');
            IF i % 4 <> 0 THEN PERFORM script_tracking.complete_operation(hk, i % 9 <> 0); END IF;
          END LOOP;
        END $$""")
    time.sleep(0.05)
    boundary = setup.execute("SELECT clock_timestamp()").fetchone()[0]
    time.sleep(0.05)
    stop = threading.Event()
    errors: list[str] = []
    slowest: list[float] = []
    done: list[bytes] = []

    def client(i: int) -> None:
        worst = 0.0
        try:
            with psycopg.connect(setup.info.dsn, password=setup.info.password, autocommit=True) as c:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    hk = c.execute("SELECT track_operation(%s, 'DEPLOYMENT')", (f"new {i}",)).fetchone()[0]
                    c.execute("SELECT complete_operation(%s, true)", (hk,))
                    worst = max(worst, time.perf_counter() - t0)
                    done.append(hk)
        except psycopg.Error as exc:
            errors.append(f"{exc.sqlstate}: {exc}")
        slowest.append(worst)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    batches, longest = [], 0.0
    try:
        while True:
            t0 = time.perf_counter()
            n = setup.execute("SELECT script_tracking.purge_executions(now() - %s::timestamptz, 200)",
                              (boundary,)).fetchone()[0]
            longest = max(longest, time.perf_counter() - t0)
            if not n:
                break
            batches.append(n)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert errors == []
    assert sum(batches) == 3000 and max(batches) <= 200
    # generous bounds (2 cores, 33 sessions): a batch holds its row locks for well under
    # a second, and no tracking call waited anywhere near that long for the purge
    assert longest < 5.0, longest
    assert max(slowest) < 10.0, slowest
    assert setup.execute("SELECT count(*) FROM script_tracking.script_execution_h WHERE load_date < %s",
                         (boundary,)).fetchone()[0] == 0
    assert len(done) > 100
    assert setup.execute(
        "SELECT count(*) FROM script_tracking.script_execution_h h WHERE script_execution_hk = ANY (%s)"
        " AND (SELECT count(*) FROM script_tracking.script_execution_s s"
        "       WHERE s.script_execution_hk = h.script_execution_hk) = 2", (done,)).fetchone()[0] == len(done)
    assert setup.execute("SELECT count(*) FROM util.audit_log WHERE resource_id = ANY (%s)",
                         ([h.hex() for h in done],)).fetchone()[0] == 2 * len(done)


def test_purge_finds_audit_rows_through_the_execution_index(installed_db, connect, notices):
    """The purge's statements (auto_explain) read every table by an index: no scan of
    the audit log (the largest table) or of the satellite."""
    conn = connect(installed_db)
    _track(conn, 30, "x")
    conn.execute("ANALYZE")
    conn.execute("SET enable_seqscan = off")  # a tiny table: make a missing index show
    notes = notices(conn)
    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET auto_explain.log_level = 'notice'")
    assert conn.execute("SELECT script_tracking.purge_executions(interval '1 microsecond')").fetchone()[0] == 30
    plans = [m for m in notes.messages() if "DELETE FROM" in m]
    audit = next(m for m in plans if "util.audit_log" in m)
    assert "audit_log_execution_idx" in audit, audit
    assert not any("Seq Scan" in m for m in plans), plans


def test_purge_and_a_completion_of_an_old_execution_never_deadlock(installed_db, connect):
    """A completion under way holds its hub row: the purge passes that execution by without
    waiting. A purge under way holds its batch: a completion of one of them waits for it,
    then finds the execution gone (ST004). Neither order deadlocks."""
    setup = connect(installed_db)
    first, second = (setup.execute("SELECT track_operation('old', 'MAINTENANCE')").fetchone()[0] for _ in range(2))
    time.sleep(0.05)
    boundary = setup.execute("SELECT clock_timestamp()").fetchone()[0]
    completer = connect(installed_db, autocommit=False)
    completer.execute("SELECT complete_operation(%s, true)", (first,))
    t0 = time.perf_counter()
    assert setup.execute("SELECT script_tracking.purge_executions(now() - %s::timestamptz)",
                         (boundary,)).fetchone()[0] == 1  # the second one only
    assert time.perf_counter() - t0 < 0.9  # not the lock timeout: it never waited
    completer.commit()
    assert _rows_of(setup, [first]) == (1, 2, 0, 2)
    assert _rows_of(setup, [second]) == (0, 0, 0, 0)

    third = setup.execute("SELECT track_operation('old', 'MAINTENANCE')").fetchone()[0]
    time.sleep(0.05)
    boundary = setup.execute("SELECT clock_timestamp()").fetchone()[0]
    time.sleep(0.05)
    purger = connect(installed_db, autocommit=False)
    assert purger.execute("SELECT script_tracking.purge_executions(now() - %s::timestamptz)",
                          (boundary,)).fetchone()[0] == 2  # first and third
    result: dict = {}

    def complete() -> None:
        try:
            with psycopg.connect(setup.info.dsn, password=setup.info.password, autocommit=True) as c:
                c.execute("SELECT complete_operation(%s, true)", (third,))
                result["c"] = "ok"
        except psycopg.Error as exc:
            result["c"] = exc.sqlstate

    t = threading.Thread(target=complete)
    t.start()
    time.sleep(0.3)
    assert "c" not in result  # waiting for the purge's batch
    purger.commit()
    t.join(10)
    assert result["c"] == "ST004"
    assert _rows_of(setup, [first, third]) == (0, 0, 0, 0)
