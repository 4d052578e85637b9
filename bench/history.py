"""Figure 3: history queries and track_operation at 10^4, 10^5, 10^6 tracked executions,
against a plain top-100 index scan of the hub (the floor for a newest-first listing)."""

from __future__ import annotations

import math
import time

from .common import Bench, Row, percentile

TYPES = "ARRAY['DEPLOYMENT','MIGRATION','MAINTENANCE','VALIDATION','ROLLBACK','DATA_FIX','ADHOC']"
NAMES = 100  # distinct script names, script_000 .. script_099

# Rows lo..hi, respecting every constraint: bk = name#id, hk = sha256(bk), one RUNNING
# version per execution and, for 6 in 7, one final version (1 in 13 of them FAILED).
LOAD_HUB = f"""
INSERT INTO script_tracking.script_execution_h
    (script_execution_hk, script_execution_bk, execution_id, script_name, script_type, load_date, record_source)
SELECT pg_catalog.sha256(pg_catalog.convert_to(x.nm || '#' || i, 'UTF8')), x.nm || '#' || i, i, x.nm,
       ({TYPES})[1 + i %% 7], x.ts, 'bench:bulk'
  FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) i
 CROSS JOIN LATERAL (SELECT 'script_' || lpad((i %% {NAMES})::text, 3, '0') AS nm,
                            timestamptz '2024-01-01 00:00:00+00' + i * interval '10 seconds' AS ts) x
"""

LOAD_SAT = """
INSERT INTO script_tracking.script_execution_s
    (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
     end_time, duration, error_message, db_session_user, client_addr, application_name, details)
SELECT h.script_execution_hk, h.load_date + v.off, 'bench:bulk', h.script_name, h.script_type, v.status,
       h.load_date, CASE WHEN v.status <> 'RUNNING' THEN h.load_date + v.off END,
       CASE WHEN v.status <> 'RUNNING' THEN v.off END,
       CASE WHEN v.status = 'FAILED' THEN 'bench failure' END,
       'postgres', NULL, 'bench', '{}'::jsonb
  FROM script_tracking.script_execution_h h
 CROSS JOIN LATERAL (VALUES ('RUNNING', interval '0'),
                            (CASE WHEN h.execution_id %% 7 = 0 THEN NULL
                                  WHEN h.execution_id %% 13 = 0 THEN 'FAILED' ELSE 'COMPLETED' END,
                             interval '5 seconds')) v(status, off)
 WHERE h.execution_id BETWEEN %(lo)s AND %(hi)s AND h.record_source = 'bench:bulk' AND v.status IS NOT NULL
 ORDER BY h.execution_id, v.off
"""

QUERIES = {
    "history_default": ("SELECT * FROM script_tracking.get_execution_history()", None),
    "history_by_name": ("SELECT * FROM script_tracking.get_execution_history(p_script_name => %s)", ("script_042",)),
    "track_operation": ("SELECT script_tracking.track_operation('bench_probe', 'ADHOC')", None),
    "baseline_top100": ("SELECT script_execution_hk, execution_id, script_name, script_type, load_date "
                        "FROM script_tracking.script_execution_h ORDER BY load_date DESC LIMIT 100", None),
}


def load(conn, count: int) -> float:
    """Bulk-load `count` executions after the ones that exist (ids from the sequence)."""
    t0 = time.perf_counter()
    lo = conn.execute("SELECT last_value + 1 FROM script_tracking.script_execution_id_seq").fetchone()[0]
    hi = lo + count - 1
    with conn.transaction():
        conn.execute(LOAD_HUB, {"lo": lo, "hi": hi})
        conn.execute(LOAD_SAT, {"lo": lo, "hi": hi})
    conn.execute("SELECT setval('script_tracking.script_execution_id_seq', %s)", (hi,))
    conn.execute("VACUUM ANALYZE script_tracking.script_execution_h")
    conn.execute("VACUUM ANALYZE script_tracking.script_execution_s")
    return time.perf_counter() - t0


def measure(conn, calls: int) -> dict[str, dict[str, float]]:
    lat: dict[str, list[float]] = {k: [] for k in QUERIES}
    for _ in range(max(5, calls // 10)):  # warm-up (caches, prepared statements)
        for q, p in QUERIES.values():
            conn.execute(q, p, prepare=True).fetchall()
    for _ in range(calls):  # interleaved
        for k, (q, p) in QUERIES.items():
            t0 = time.perf_counter()
            rows = conn.execute(q, p, prepare=True).fetchall()
            lat[k].append((time.perf_counter() - t0) * 1000)
            if k != "track_operation" and not 0 < len(rows) <= 100:
                raise AssertionError(f"{k}: {len(rows)} rows, expected 1..100")
    return {k: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95), "calls": len(v)} for k, v in lat.items()}


def run(b: Bench, quick: bool = False, sizes=None, calls: int | None = None, log=print) -> list[Row]:
    sizes = sizes or ((1_000, 10_000) if quick else (10_000, 100_000, 1_000_000))
    calls = calls or (50 if quick else 300)
    db = b.create_db("hist")
    b.install(db)
    results: dict[int, dict] = {}
    loaded = 0
    with b.connect(db) as conn:
        for n in sizes:
            secs = load(conn, n - loaded)
            loaded = n
            # the probes' own executions (track_operation) count too
            loaded = conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0]
            results[n] = measure(conn, calls)
            results[n]["load_s"] = secs
            log(f"  history n={n:>8}: loaded in {secs:.1f} s; " + "; ".join(
                f"{k} p50 {v['p50_ms']:.2f} p95 {v['p95_ms']:.2f} ms" for k, v in results[n].items() if k != "load_s"))
    small, big = sizes[0], sizes[-1]
    log_growth = math.log(big) / math.log(small)
    rows = []
    for k in ("history_default", "history_by_name", "track_operation"):
        p95, p50 = results[big][k]["p95_ms"], results[big][k]["p50_ms"]
        growth = p50 / results[small][k]["p50_ms"]
        base = results[big]["baseline_top100"]["p95_ms"]
        rows.append(Row(
            figure=f"{k} p95 at {big:.0e} executions",
            value=p95, baseline=base, unit="ms",
            target=f"p95 < 5 ms; p50 growth {small:.0e}->{big:.0e} <= {log_growth:.2f} (log)",
            # growth is judged on the full sizes only (--quick: 10 rows per name at 10^3)
            met=p95 < 5.0 and (quick or growth <= log_growth * 1.15),  # 15 % measurement noise allowed
            extra={"p50_ms": p50, "p50_growth": growth, "log_growth": log_growth,
                   "by_size": {str(n): results[n][k] for n in sizes},
                   "baseline_by_size": {str(n): results[n]["baseline_top100"] for n in sizes}},
        ))
    rows.append(Row(figure=f"bulk load of {big:.0e} executions", value=sum(results[n]["load_s"] for n in sizes),
                    baseline=None, unit="s", target="< 180 s", met=sum(results[n]["load_s"] for n in sizes) < 180))
    return rows
