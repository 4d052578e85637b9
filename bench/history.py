"""Figure 3: get_execution_history with every filter, alone and combined, from 10^4 to
10^7 executions (`--size large`) or 10^3 to 10^5 (the default, quick); at the largest
size also bytes per 10^6 executions, tracking throughput against an empty install and
the retention purge's throughput.

The data is loaded set-based, as the tracking functions would have written it: per
execution a hub row (hash key as track_operation makes it), a RUNNING version, its audit
row and, but for 1 in 100,000 left running (in the running set), a final version and
its audit row; 1 in 1,000 finals FAILED. Load dates are 10 s apart, so an hour holds
360 executions and 10^7 executions span 3.2 years, ending now.
"""

from __future__ import annotations

import os
import threading
import time

import psycopg
from psycopg import sql

from . import throughput
from .common import Bench, Row, percentile

TYPES = "ARRAY['DEPLOYMENT','MIGRATION','MAINTENANCE','VALIDATION','ROLLBACK','DATA_FIX','ADHOC']"
NAMES = 100            # script_000 .. script_099
FAILED_EVERY = 997     # about 0.1 % of the executions fail (a prime: every name and type has some)
RUNNING_EVERY = 100_000
STEP = "10 seconds"
SIZES = {"quick": (1_000, 10_000, 100_000), "large": (10_000, 100_000, 1_000_000, 10_000_000)}
# 10^7 executions are about 17 GB: the large run gives the server the memory a server holding
# that much history is given (the bench cluster's 256 MB would measure its disk cache instead);
# restored afterwards
LARGE_SHARED_BUFFERS = "4GB"
KEY_INDEXES = ("script_tracking.script_execution_h_pk", "script_tracking.script_execution_s_pk",
                      "script_tracking.script_execution_s_one_final_uq")
TABLES = ("script_tracking.script_execution_h", "script_tracking.script_execution_s",
          "script_tracking.script_execution_running", "util.audit_log")

# Executions lo..hi in one statement (hub, versions, running set, audit rows); every
# constraint holds. %(base)s is the load date of execution 0.
LOAD = f"""
WITH g AS MATERIALIZED (
    SELECT i AS id, x.nm, x.nm || '#' || i AS bk,
           int8send(i) || substr(sha256(convert_to(x.nm || '#' || i || '#' || gen_random_uuid()::text, 'UTF8')), 1, 24) AS hk,
           ({TYPES})[1 + i %% 7] AS typ,
           %(base)s::timestamptz + i * interval '{STEP}' AS ts,
           CASE WHEN i %% {RUNNING_EVERY} = 0 THEN 'RUNNING'
                WHEN i %% {FAILED_EVERY} = 1 THEN 'FAILED' ELSE 'COMPLETED' END AS fin
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) i
     CROSS JOIN LATERAL (SELECT 'script_' || lpad((i %% {NAMES})::text, 3, '0') AS nm) x
), v AS MATERIALIZED (
    SELECT g.*, v.status, v.off
      FROM g CROSS JOIN LATERAL (VALUES ('RUNNING', interval '0'), (g.fin, interval '5 seconds')) v(status, off)
     WHERE v.off = interval '0' OR g.fin <> 'RUNNING'
), h AS (
    INSERT INTO script_tracking.script_execution_h
        (script_execution_hk, script_execution_bk, execution_id, script_name, script_type, load_date, record_source)
    SELECT hk, bk, id, nm, typ, ts, 'script_tracking.track_operation' FROM g
), s AS (
    INSERT INTO script_tracking.script_execution_s
        (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
         end_time, duration, error_message, db_session_user, client_addr, application_name, details)
    SELECT hk, ts + off, CASE WHEN status = 'RUNNING' THEN 'script_tracking.track_operation'
                              ELSE 'script_tracking.complete_operation' END,
           nm, typ, status, ts, CASE WHEN status <> 'RUNNING' THEN ts + off END,
           CASE WHEN status <> 'RUNNING' THEN off END, CASE WHEN status = 'FAILED' THEN 'bench failure' END,
           'postgres', NULL, 'bench', '{{}}'::jsonb
      FROM v ORDER BY id, off
), r AS (
    INSERT INTO script_tracking.script_execution_running (script_execution_hk, load_date, execution_id)
    SELECT hk, ts, id FROM g WHERE fin = 'RUNNING'
)
INSERT INTO util.audit_log (event_time, event_type, resource_type, resource_id, actor, details)
SELECT ts + off, 'SCRIPT_EXECUTION_' || CASE WHEN status = 'RUNNING' THEN 'STARTED' ELSE status END,
       'SCRIPT_EXECUTION', encode(hk, 'hex'), 'postgres',
       jsonb_build_object('execution_id', id, 'script_name', nm, 'script_type', typ, 'status', status)
       || CASE WHEN status = 'RUNNING' THEN '{{}}'::jsonb
               ELSE jsonb_build_object('duration_ms', 5000, 'error_message',
                                       CASE WHEN status = 'FAILED' THEN 'bench failure' END) END
  FROM v
"""

# Indexes rebuilt after each load step (one sorted build is much faster than 10^7
# random inserts): every index of TABLES but the hub's primary key, which the
# satellite's foreign key needs; the foreign key trigger is off while loading
# (session_replication_role), the data is correct by construction.
INDEXES = """
SELECT c.conname, i.indexrelid::regclass::text, i.indrelid::regclass::text,
       CASE WHEN c.conname IS NOT NULL THEN pg_get_constraintdef(c.oid) ELSE pg_get_indexdef(i.indexrelid) END
  FROM pg_index i
  LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('p', 'u')
 WHERE i.indrelid = ANY (%s::regclass[])
   AND i.indexrelid <> 'script_tracking.script_execution_h_pk'::regclass
   AND (c.conname IS NULL OR i.indrelid = 'script_tracking.script_execution_s'::regclass)
 ORDER BY 2
"""


def _q(*filters: str) -> str:
    return "SELECT * FROM script_tracking.get_execution_history(" + ", ".join(filters) + ")"


# name -> (query, expected rows at every size: None = 1..100)
QUERIES = {
    "no filter": _q(),
    "name": _q("p_script_name => 'script_042'"),
    "type": _q("p_script_type => 'MIGRATION'"),
    "one-hour range": _q("p_from => %(mid)s", "p_to => %(mid)s + interval '1 hour'"),
    "limit 10": _q("p_limit => 10"),
    "COMPLETED": _q("p_status => 'COMPLETED'"),
    "FAILED": _q("p_status => 'FAILED'"),
    "RUNNING": _q("p_status => 'RUNNING'"),
    "FAILED + name": _q("p_status => 'FAILED'", "p_script_name => 'script_001'"),
    "FAILED + type": _q("p_status => 'FAILED'", "p_script_type => 'MIGRATION'"),
    "FAILED + one-day range": _q("p_status => 'FAILED'", "p_from => %(mid)s", "p_to => %(mid)s + interval '1 day'"),
    "RUNNING + name": _q("p_status => 'RUNNING'", "p_script_name => 'script_000'"),
    "COMPLETED + name + type + range": _q("p_status => 'COMPLETED'", "p_script_name => 'script_042'",
                                          "p_script_type => 'VALIDATION'", "p_from => %(mid)s - interval '1 day'",
                                          "p_to => %(mid)s + interval '1 day'"),
    "baseline: top-100 hub scan": "SELECT script_execution_hk, execution_id, script_name, script_type, load_date "
                                  "FROM script_tracking.script_execution_h ORDER BY load_date DESC LIMIT 100",
}
BASELINE = "baseline: top-100 hub scan"


def _drop_indexes(conn) -> list[tuple[str, str, str, str]]:
    conn.execute("SET session_replication_role = replica")  # the bench's own DDL is not tracked
    found = conn.execute(INDEXES, (list(TABLES),)).fetchall()
    for con, idx, table, _ in found:
        if con:
            conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(table), sql.Identifier(con)))
        else:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(idx)))
    return found


def _create_indexes(conn, found) -> None:
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    for con, _, table, definition in found:
        if con:
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.SQL(table), sql.Identifier(con), sql.SQL(definition)))
        else:
            conn.execute(sql.SQL(definition))


def load(b: Bench, db: str, lo: int, hi: int, base: str) -> float:
    """Executions lo..hi, on two connections (the machine's two cores), indexes rebuilt."""
    t0 = time.perf_counter()
    with b.connect(db) as conn:
        found = _drop_indexes(conn)
    mid = (lo + hi) // 2
    errors: list[BaseException] = []

    def part(a: int, z: int) -> None:
        try:
            with b.connect(db) as c:
                c.execute("SET session_replication_role = replica")
                c.execute("SET work_mem = '256MB'")
                step = 1_000_000
                for x in range(a, z + 1, step):
                    c.execute(LOAD, {"lo": x, "hi": min(z, x + step - 1), "base": base})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=part, args=r) for r in ((lo, mid), (mid + 1, hi)) if r[0] <= r[1]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    with b.connect(db) as conn:
        _create_indexes(conn, found)
        conn.execute("SELECT setval('script_tracking.script_execution_id_seq', %s)", (hi,))
        for t in TABLES:
            conn.execute(sql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(sql.SQL(t)))
        conn.execute("CHECKPOINT")  # the load's writes are not flushed during the measurements
    return time.perf_counter() - t0


def check_loaded(conn, n: int) -> None:
    """The load is what the tracking functions write: counts and the running set."""
    h, s, a, r = conn.execute(
        "SELECT (SELECT count(*) FROM script_tracking.script_execution_h),"
        " (SELECT count(*) FROM script_tracking.script_execution_s),"
        " (SELECT count(*) FROM util.audit_log WHERE resource_type = 'SCRIPT_EXECUTION'),"
        " (SELECT count(*) FROM script_tracking.script_execution_running)").fetchone()
    running = n // RUNNING_EVERY
    if (h, s, a, r) != (n, 2 * n - running, 2 * n - running, running):
        raise AssertionError(f"load of {n}: hub {h}, satellite {s}, audit {a}, running {r}")


def measure(b: Bench, db: str, calls: int, mid, rounds: int = 3) -> dict[str, dict[str, float]]:
    """Per query, `calls` pgbench transactions at 1 client (per-transaction latencies, as
    an application sees them: the rows fetched by libpq), in `rounds` interleaved runs."""
    scripts, counts = {}, {}
    with b.connect(db) as conn:
        for i, (k, q) in enumerate(QUERIES.items()):
            text = sql.SQL(q.replace("%(mid)s", "{mid}")).format(mid=sql.Literal(mid)).as_string(conn)
            rows = conn.execute(text).fetchall()  # and a warm-up
            if not rows and k not in ("RUNNING", "RUNNING + name"):
                raise AssertionError(f"{k}: no rows")
            counts[k] = len(rows)
            scripts[k] = b.tmp / f"history_{i}.sql"
            scripts[k].write_text(text + ";\n")
    lat: dict[str, list[float]] = {k: [] for k in QUERIES}
    for r in range(rounds):
        for k in (list(QUERIES) if r % 2 == 0 else list(reversed(QUERIES))):
            res = throughput.pgbench(b, db, scripts[k], 1, None, transactions=max(1, calls // rounds))
            if res["errors"]:
                raise AssertionError(f"{k}: pgbench failed: {res['stderr']}")
            lat[k] += res["latencies_ms"]
    return {k: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95), "p99_ms": percentile(v, 99),
                "calls": len(v), "rows": counts[k]} for k, v in lat.items()}


def sizes_of(conn, n: int) -> dict[str, float]:
    """Bytes per 10^6 executions, per table (heap and TOAST) and per index."""
    per = 1e6 / n
    out = {}
    for t in TABLES:
        out[t] = conn.execute("SELECT pg_table_size(%s::regclass)", (t,)).fetchone()[0] * per
        for idx, size in conn.execute(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index"
                " WHERE indrelid = %s::regclass ORDER BY 1", (t,)).fetchall():
            out[idx] = size * per
    return out


# the previous release's indexes (for the storage baseline): built, measured, dropped
OLD_INDEXES = (
    "CREATE INDEX bench_old_audit_resource_idx ON util.audit_log (resource_type, resource_id)",
    "CREATE UNIQUE INDEX bench_old_one_running_uq ON script_tracking.script_execution_s (script_execution_hk)"
    " WHERE status = 'RUNNING'",
)
REMOVED_NOW = ("util.audit_log_execution_idx",)  # replaced one of them; the running set is new


def storage(conn, n: int) -> Row:
    now = sizes_of(conn, n)
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET session_replication_role = replica")
    old = {}
    for stmt in OLD_INDEXES:
        conn.execute(stmt)
    try:
        sizes = sizes_of(conn, n)
        old = {k: v for k, v in sizes.items() if k.split(".")[-1].startswith("bench_old_")}
    finally:
        conn.execute("DROP INDEX util.bench_old_audit_resource_idx")
        conn.execute("DROP INDEX script_tracking.bench_old_one_running_uq")
    total = sum(now.values())
    # the previous release: the same rows, its two indexes instead of the new audit index,
    # no FAILED indexes, no running set
    new_only = [k for k in now if k in REMOVED_NOW or "_failed_" in k or "running" in k]
    before = total - sum(now[k] for k in new_only) + sum(old.values())
    return Row(figure="bytes per 10^6 executions", value=total / 2**20, baseline=before / 2**20, unit="MiB",
               target="lower than the previous release's indexes on the same rows", met=total < before,
               extra={"per_relation_mib": {k: v / 2**20 for k, v in now.items()},
                      "previous_indexes_mib": {k: v / 2**20 for k, v in old.items()}, "executions": n})


def purge(b: Bench, db: str, oldest: int, batch: int = 1000) -> Row:
    """Purge the `oldest` executions in batches, one transaction each: executions/s and the
    longest batch (the longest any row lock of it is held)."""
    with b.connect(db) as conn:
        n = conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0]
        first = conn.execute("SELECT min(load_date) FROM script_tracking.script_execution_h").fetchone()[0]
        age = conn.execute("SELECT now() - (%s::timestamptz + %s * interval '" + STEP + "')",
                           (first, oldest)).fetchone()[0]
        batches: list[float] = []
        done = 0
        t0 = time.perf_counter()
        while True:
            t = time.perf_counter()
            got = conn.execute("SELECT script_tracking.purge_executions(%s, %s)", (age, batch)).fetchone()[0]
            batches.append((time.perf_counter() - t) * 1000)
            if not got:
                break
            done += got
        secs = time.perf_counter() - t0
        left = conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0]
    if done < oldest * 0.99 or left != n - done:
        raise AssertionError(f"purge: {done} purged of {oldest}, {left} left of {n}")
    return Row(figure=f"retention purge at {n:.1e} executions", value=done / secs, baseline=None, unit="exec/s",
               target="report; batches short", met=None,
               extra={"purged": done, "batch": batch, "seconds": secs, "batch_p50_ms": percentile(batches, 50),
                      "batch_max_ms": max(batches)})


def tracking(b: Bench, db: str, n: int, seconds: int, log, reps: int = 2) -> list[Row]:
    """track + complete at n executions against an empty install (1 and 8 clients) and
    against plain INSERTs into empty copies of the tables (64 clients), interleaved."""
    empty = b.create_db("empty")
    b.install(empty)
    b.psql(empty, command=throughput.SETUP_BASELINE)
    # A server that has been running holds the indexes on the hash key in memory; after the
    # load and restart they would come from disk. Warm them as that steady state has them
    # (keys of an earlier release were random: every page of those indexes was hot).
    for d in (db, empty):
        with b.connect(d) as conn:
            conn.execute("SET session_replication_role = replica")  # not tracked as DDL
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            conn.execute("SELECT pg_prewarm(i) FROM unnest(%s::regclass[]) i", (list(KEY_INDEXES),))
    tracked = b.tmp / "tracked.sql"
    base = b.tmp / "baseline.sql"
    tracked.write_text(throughput.TRACKED)
    base.write_text(throughput.BASELINE)
    rows = []
    for clients, against, path, target in ((1, empty, tracked, 0.9), (8, empty, tracked, 0.9), (64, empty, base, 0.8)):
        res: dict[str, list[dict]] = {"full": [], "base": []}
        for rep in range(reps):
            order = (("full", db, tracked), ("base", against, path))
            for name, d, p in (order if rep % 2 == 0 else order[::-1]):
                with b.connect(d) as conn:
                    conn.execute("CHECKPOINT")
                res[name].append(throughput.pgbench(b, d, p, clients, seconds))
        full = sum(r["tps"] for r in res["full"]) / len(res["full"])
        basetps = sum(r["tps"] for r in res["base"]) / len(res["base"])
        errors = sum(r["errors"] for r in res["full"] + res["base"])
        what = "an empty install" if path == tracked else "plain INSERTs"
        log(f"  tracking at {n:.0e}, {clients} clients: {full:.0f} exec/s against {basetps:.0f} ({what}); "
            f"load average {os.getloadavg()[0]:.1f}")
        rows.append(Row(figure=f"tracking at {n:.0e} executions, {clients} clients, vs {what}", value=full,
                        baseline=basetps, unit="exec/s", target=f"ratio >= {target}, 0 errors",
                        met=basetps > 0 and full / basetps >= target and errors == 0,
                        extra={"clients": clients, "runs": res, "loadavg_1min": os.getloadavg()[0]}))
    return rows


def run(b: Bench, quick: bool = False, sizes=None, calls: int | None = None, size: str = "quick",
        seconds: int | None = None, log=print) -> list[Row]:
    sizes = sizes or SIZES[size]
    calls = calls or (50 if quick else 600)
    seconds = seconds or (1 if quick else 10)
    if size == "large":
        _shared_buffers(b, LARGE_SHARED_BUFFERS)
    try:
        return _run(b, quick, sizes, calls, seconds, log)
    finally:
        if size == "large":
            _shared_buffers(b, None)


def _shared_buffers(b: Bench, value: str | None) -> None:
    with b.connect() as conn:
        if value is None:
            conn.execute("ALTER SYSTEM RESET shared_buffers")
        else:
            conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(value)))
    b.cluster.stop()
    b.cluster.start()


def _run(b: Bench, quick: bool, sizes, calls: int, seconds: int, log) -> list[Row]:
    db = b.create_db("hist")
    b.install(db)
    with b.connect(db) as conn:
        # executions end about now, STEP apart
        base = conn.execute("SELECT now() - %s * interval '" + STEP + "'", (sizes[-1],)).fetchone()[0]
    results: dict[int, dict] = {}
    loaded = 0
    for n in sizes:
        secs = load(b, db, loaded + 1, n, base)
        loaded = n
        with b.connect(db) as conn:
            check_loaded(conn, n)
            mid = conn.execute("SELECT %s::timestamptz + %s * interval '" + STEP + "'", (base, n // 2)).fetchone()[0]
        results[n] = measure(b, db, calls, mid)
        results[n]["load_s"] = secs
        log(f"  history n={n:>9}: loaded in {secs:.1f} s; " + "; ".join(
            f"{k} p95 {v['p95_ms']:.2f}" for k, v in results[n].items() if k != "load_s"))
    big = sizes[-1]
    rows = []
    for k in QUERIES:
        at = results[big][k]
        # flat: against the smallest size at which the query returns as many rows (a
        # status filter finds 100 FAILED executions only from 10^5 on)
        ref = next(n for n in sizes if results[n][k]["rows"] == at["rows"])
        growth = at["p50_ms"] / max(results[ref][k]["p50_ms"], 1e-9)
        rows.append(Row(
            figure=f"history {k}: p95 at {big:.0e}", value=at["p95_ms"], baseline=results[ref][k]["p95_ms"],
            unit="ms", target="p95 < 2 ms; flat: p50 <= 1.5x the p50 at the smallest size with as many rows",
            met=None if k == BASELINE else at["p95_ms"] < 2.0 and growth <= 1.5,
            extra={"p50_ms": at["p50_ms"], "p99_ms": at["p99_ms"], "query": k, "reference_size": ref,
                   "p50_growth": growth, "by_size": {str(n): results[n][k] for n in sizes}}))
    total_load = sum(results[n]["load_s"] for n in sizes)
    rows.append(Row(figure=f"bulk load of {big:.0e} executions", value=total_load, baseline=None, unit="s",
                    target="< 600 s", met=total_load < 600))
    with b.connect(db) as conn:
        rows.append(storage(conn, big))
    log(f"  storage: {rows[-1].value:.0f} MiB per 10^6 executions (previous indexes: {rows[-1].baseline:.0f})")
    rows += tracking(b, db, big, seconds, log, reps=1 if quick else 2)
    rows.append(purge(b, db, max(10, big // 100)))  # the oldest 1 %
    log(f"  purge: {rows[-1].value:.0f} exec/s, longest batch {rows[-1].extra['batch_max_ms']:.0f} ms")
    return rows
