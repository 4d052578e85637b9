"""Many sessions tracking the SAME script name as fast as they can."""

from __future__ import annotations

import threading

SESSIONS = 32
CALLS = 200


def test_32_sessions_same_script_name(installed_db, connect):
    conns = [connect(installed_db) for _ in range(SESSIONS)]
    errors: list[BaseException] = []
    results: list[list[bytes]] = [[] for _ in range(SESSIONS)]
    start = threading.Barrier(SESSIONS)

    def worker(i: int) -> None:
        conn = conns[i]
        try:
            start.wait()
            for n in range(CALLS):
                if i % 2:  # half through the public wrappers, half qualified
                    hk = conn.execute("SELECT track_operation('Nightly Vacuum', 'MAINTENANCE')").fetchone()[0]
                    conn.execute("SELECT complete_operation(%s, %s, NULL)", (hk, n % 10 != 0))
                else:
                    hk = conn.execute("SELECT script_tracking.track_operation('Nightly Vacuum', 'MAINTENANCE')"
                                      ).fetchone()[0]
                    conn.execute("SELECT script_tracking.complete_operation(%s, %s)", (hk, n % 10 != 0))
                results[i].append(hk)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]
    total = SESSIONS * CALLS
    all_hks = [hk for r in results for hk in r]
    assert len(all_hks) == total and len(set(all_hks)) == total

    check = conns[0]
    assert check.execute(
        "SELECT count(*), count(DISTINCT script_execution_hk), count(DISTINCT execution_id),"
        "       count(DISTINCT script_execution_bk)"
        "  FROM script_tracking.script_execution_h WHERE script_name = 'Nightly Vacuum'").fetchone() == (total,) * 4
    assert check.execute(
        "SELECT count(*), count(DISTINCT version_number) FROM script_tracking.script_execution_s").fetchone() == (
        2 * total, 2 * total)
    # every execution: exactly RUNNING then its final version, in version order
    bad = check.execute("""
        SELECT h.execution_id, array_agg(s.status ORDER BY s.version_number)
          FROM script_tracking.script_execution_h h
          JOIN script_tracking.script_execution_s s USING (script_execution_hk)
         GROUP BY h.execution_id
        HAVING array_agg(s.status ORDER BY s.version_number) NOT IN
               (ARRAY['RUNNING','COMPLETED'], ARRAY['RUNNING','FAILED'])""").fetchall()
    assert bad == []
    assert check.execute("SELECT count(*) FROM script_tracking.script_execution_s WHERE status = 'FAILED'"
                         ).fetchone()[0] == total // 10
    assert check.execute("SELECT count(*) FROM util.audit_log").fetchone()[0] == 2 * total
