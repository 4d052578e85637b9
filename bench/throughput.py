"""Figure 1: tracking throughput (track_operation + complete_operation per execution)
with 1/8/32/64 pgbench clients, against plain INSERTs into copies of the hub and
satellite tables (same columns, constraints and indexes; no functions, no audit)."""

from __future__ import annotations

import re
import subprocess

from .common import Bench, Row, bin_dir

# One pgbench transaction = one tracked execution: start it, then complete it
# (two round trips, like an application). pgbench substitutes :hk textually
# (simple protocol), so the hex hash key is quoted by the script.
TRACKED = """\
SELECT encode(script_tracking.track_operation('bench_script', 'DEPLOYMENT'), 'hex') AS hk
\\gset
SELECT script_tracking.complete_operation(decode(':hk', 'hex'), true);
"""

# The same rows written with plain INSERTs: hub + RUNNING version in one
# statement, then the COMPLETED version (also two round trips).
BASELINE = """\
WITH n AS (SELECT nextval('bench_base.id_seq') AS id, clock_timestamp() AS t),
     k AS (SELECT n.id, n.t, 'bench_script#' || n.id AS bk,
                  sha256(convert_to('bench_script#' || n.id, 'UTF8')) AS hk FROM n),
     h AS (INSERT INTO bench_base.script_execution_h
               (script_execution_hk, script_execution_bk, execution_id, script_name, script_type, load_date, record_source)
           SELECT hk, bk, id, 'bench_script', 'DEPLOYMENT', t, 'bench' FROM k RETURNING script_execution_hk)
INSERT INTO bench_base.script_execution_s
    (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
     db_session_user, client_addr, application_name, details)
SELECT k.hk, k.t, 'bench', 'bench_script', 'DEPLOYMENT', 'RUNNING', k.t, session_user,
       inet_client_addr(), current_setting('application_name'), '{}'::jsonb FROM k
RETURNING encode(script_execution_hk, 'hex') AS hk
\\gset
INSERT INTO bench_base.script_execution_s
    (script_execution_hk, load_date, record_source, script_name, script_type, status, start_time,
     end_time, duration, db_session_user, client_addr, application_name, details)
VALUES (decode(':hk', 'hex'), clock_timestamp(), 'bench', 'bench_script', 'DEPLOYMENT', 'COMPLETED',
        clock_timestamp(), clock_timestamp(), interval '0', session_user, inet_client_addr(),
        current_setting('application_name'), '{}'::jsonb);
"""

SETUP_BASELINE = """
CREATE SCHEMA bench_base;
CREATE SEQUENCE bench_base.id_seq;
CREATE SEQUENCE bench_base.version_seq;
CREATE TABLE bench_base.script_execution_h (LIKE script_tracking.script_execution_h INCLUDING ALL);
CREATE TABLE bench_base.script_execution_s (LIKE script_tracking.script_execution_s INCLUDING ALL);
ALTER TABLE bench_base.script_execution_s
    ALTER COLUMN version_number SET DEFAULT nextval('bench_base.version_seq'),
    ADD CONSTRAINT script_execution_s_h_fk FOREIGN KEY (script_execution_hk)
        REFERENCES bench_base.script_execution_h (script_execution_hk);
"""

CLIENTS = (1, 8, 32, 64)


def pgbench(b: Bench, db: str, script_path, clients: int, seconds: int | None, transactions: int | None = None
            ) -> dict:
    """One pgbench run: `seconds` long, or `transactions` per client. The result has the
    per-transaction latencies (ms, sorted) under "latencies_ms"."""
    length = ["-T", str(seconds)] if transactions is None else ["-t", str(transactions)]
    args = [str(bin_dir() / "pgbench"), "-n", "-f", str(script_path), "-c", str(clients),
            "-j", str(min(clients, 2)), *length, "--failures-detailed",
            "-l", "--log-prefix", str(b.tmp / f"pgb_{script_path.stem}_{clients}"),
            "-h", "127.0.0.1", "-p", str(b.cluster.port), "-U", "postgres", db]
    for f in b.tmp.glob(f"pgb_{script_path.stem}_{clients}*"):
        f.unlink()
    r = subprocess.run(args, capture_output=True, text=True, env=b.env())
    if r.returncode not in (0, 2):
        raise RuntimeError(f"pgbench failed ({r.returncode}): {r.stderr[-2000:]}")
    out = r.stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    failed = int(failed.group(1)) if failed else 0
    # per-transaction latencies from the logs (column 3, microseconds)
    lat: list[float] = []
    for f in b.tmp.glob(f"pgb_{script_path.stem}_{clients}*"):
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                lat.append(int(parts[2]) / 1000.0)
    lat.sort()
    aborted = r.returncode == 2 or "aborted" in (r.stderr or "")
    return {"tps": tps, "transactions": done, "failed": failed, "aborted": aborted,
            "errors": failed + (1 if aborted else 0), "stderr": r.stderr[-500:] if aborted else "",
            "p50_ms": lat[len(lat) // 2] if lat else None,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None, "latencies_ms": lat}


def run(b: Bench, quick: bool = False, seconds: int | None = None, clients=CLIENTS, log=print) -> list[Row]:
    seconds = seconds or (1 if quick else 10)
    db = b.create_db("tp")
    b.install(db)
    b.psql(db, command=SETUP_BASELINE)
    tracked = b.tmp / "tracked.sql"
    baseline = b.tmp / "baseline.sql"
    tracked.write_text(TRACKED)
    baseline.write_text(BASELINE)
    # warm-up of both scripts
    pgbench(b, db, tracked, 2, 1)
    pgbench(b, db, baseline, 2, 1)
    rows = []
    for c in clients:
        res = {}
        for name, path in (("tracked", tracked), ("baseline", baseline)) if c % 2 else \
                          (("baseline", baseline), ("tracked", tracked)):
            with b.connect(db) as conn:  # keep tables from bloating across points
                conn.execute("CHECKPOINT")
            res[name] = pgbench(b, db, path, c, seconds)
            del res[name]["latencies_ms"]
            log(f"  throughput {c:>2} clients {name:8}: {res[name]['tps']:9.1f} exec/s "
                f"p50 {res[name]['p50_ms']:.2f} ms p99 {res[name]['p99_ms']:.2f} ms errors {res[name]['errors']}")
        t, base = res["tracked"], res["baseline"]
        rows.append(Row(
            figure=f"tracking throughput, {c} clients",
            value=t["tps"], baseline=base["tps"], unit="exec/s",
            target="ratio >= 0.5, 0 errors",
            met=t["tps"] / base["tps"] >= 0.5 and t["errors"] == 0 and base["errors"] == 0,
            extra={"clients": c, "seconds": seconds, "tracked": t, "baseline": base},
        ))
    with b.connect(db) as conn:  # every execution completed exactly once
        bad = conn.execute(
            "SELECT count(*) FROM script_tracking.script_execution_h h WHERE NOT EXISTS ("
            " SELECT 1 FROM script_tracking.script_execution_s s WHERE s.script_execution_hk = h.script_execution_hk"
            " AND s.status = 'COMPLETED')").fetchone()[0]
    if bad:
        raise AssertionError(f"{bad} tracked executions were not completed")
    return rows
