"""Figure 5: fleet rollout through the real Pulumi CLI. One stack installs the
tracking system into N databases (script-tracking:servers); for N = 1, 10 and 50:
up from empty, no-op preview, preview --refresh and destroy, as seconds per
database and as the ratio to one database (the baseline, measured in the same
run), plus PostgreSQL sessions opened per database per operation."""

from __future__ import annotations

import time

from .common import Bench, Row
from .deploy import Program

STEPS = ("up", "preview", "preview_refresh", "destroy")
ARGS = {"up": ("up", "--yes", "--skip-preview"), "preview": ("preview", "--expect-no-changes"),
        "preview_refresh": ("preview", "--refresh", "--expect-no-changes"),
        "destroy": ("destroy", "--yes", "--skip-preview")}
# ratio to one database allowed at 50 (issue: up and destroy 20x, previews 10x)
TARGETS = {"up": 20, "preview": 10, "preview_refresh": 10, "destroy": 20}


def sessions(b: Bench, dbs: list[str]) -> int:
    """Sessions ever opened on these databases (counted when they end)."""
    with b.connect() as c:
        c.execute("SELECT pg_stat_clear_snapshot()")
        return int(c.execute("SELECT coalesce(sum(sessions), 0) FROM pg_stat_database WHERE datname = ANY(%s)",
                             (dbs,)).fetchone()[0])


def fleet_program(b: Bench, n: int) -> tuple[Program, list[str]]:
    dbs = [b.create_db(f"fleet{n}") for _ in range(n)]
    p = Program(b, f"fleet{n}", True)
    key = "script-tracking:servers.bench"
    pairs = [f"{key}.host=127.0.0.1", f"{key}.port={b.cluster.port}", f"{key}.username=postgres",
             *(f"{key}.databases[{i}]={db}" for i, db in enumerate(dbs))]
    p.run("config", "set-all", "--path", *(x for pair in pairs for x in ("--plaintext", pair)),
          "--secret", f"{key}.password={b.cluster.password}")
    return p, dbs


def run(b: Bench, quick: bool = False, sizes: tuple[int, ...] | None = None, log=print) -> list[Row]:
    sizes = sizes or ((1, 3) if quick else (1, 10, 50))
    measured: dict[int, dict[str, float]] = {}
    conns: dict[int, dict[str, float]] = {}
    for n in sizes:
        p, dbs = fleet_program(b, n)
        measured[n], conns[n] = {}, {}
        for step in STEPS:
            before = sessions(b, dbs)
            dt, _ = p.run(*ARGS[step])
            time.sleep(0.2)  # a session is counted when it ends
            measured[n][step] = dt
            conns[n][step] = (sessions(b, dbs) - before) / n
            log(f"  fleet {n:3} databases {step:15}: {dt:6.2f} s ({dt / n:.3f} s per database, "
                f"{conns[n][step]:.1f} sessions per database)")
        with b.connect(dbs[0]) as c:
            if c.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')").fetchone()[0]:
                raise AssertionError("destroy left the schemas behind")
    one, big = sizes[0], sizes[-1]
    rows = []
    for step in STEPS:
        ratio = measured[big][step] / measured[one][step]
        rows.append(Row(
            figure=f"fleet {step.replace('_', ' --')} at {big} databases", value=measured[big][step],
            baseline=measured[one][step], unit="s", target=f"<= {TARGETS[step]}x of {one} database",
            met=ratio <= TARGETS[step] if big >= 50 else None,
            extra={"seconds": {str(n): measured[n][step] for n in sizes},
                   "seconds_per_database": {str(n): measured[n][step] / n for n in sizes},
                   "sessions_per_database": {str(n): conns[n][step] for n in sizes}}))
    return rows
