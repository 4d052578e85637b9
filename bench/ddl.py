"""Figure 2: DDL overhead of the event triggers (on vs off), every statement tracked."""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from .common import Bench, Row, median

# One group = 12 statements; each tuple is (statement, tracked rows it yields).
# CREATE TABLE with a PRIMARY KEY yields two (CREATE TABLE + its CREATE INDEX).
GROUP = 12


def group(i: int) -> list[tuple[str, int]]:
    s = "bench_ddl"
    return [
        (f"CREATE TABLE {s}.t{i} (id integer CONSTRAINT t{i}_pk PRIMARY KEY, v text);", 2),
        (f"CREATE INDEX t{i}_v_idx ON {s}.t{i} (v);", 1),
        (f"ALTER TABLE {s}.t{i} ADD COLUMN w integer;", 1),
        (f"COMMENT ON TABLE {s}.t{i} IS 'bench table {i}';", 1),
        (f"CREATE VIEW {s}.v{i} AS SELECT id, v FROM {s}.t{i};", 1),
        (f"CREATE FUNCTION {s}.f{i}(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT x + {i} $$;", 1),
        (f"CREATE OR REPLACE FUNCTION {s}.f{i}(x integer) RETURNS integer LANGUAGE sql IMMUTABLE "
         f"AS $$ SELECT x - {i} $$;", 1),
        (f"CREATE TYPE {s}.ty{i} AS (a integer, b text);", 1),
        (f"DROP TYPE {s}.ty{i};", 1),
        (f"DROP FUNCTION {s}.f{i}(integer);", 1),
        (f"DROP VIEW {s}.v{i};", 1),
        (f"DROP TABLE {s}.t{i};", 1),
    ]


def write_script(path: Path, statements: int) -> tuple[int, int]:
    """Write >= `statements` DDL statements; returns (statements, expected tracked rows)."""
    groups = -(-statements // GROUP)
    n = rows = 0
    with path.open("w") as f:
        for i in range(groups):
            for stmt, r in group(i):
                f.write(stmt + "\n")
                n += 1
                rows += r
    return n, rows


def set_triggers(b: Bench, db: str, on: bool) -> None:
    mode = sql.SQL("ENABLE" if on else "DISABLE")
    with b.connect(db) as c:
        for trigger in ("auto_ddl_tracker", "auto_ddl_tracker_drop"):
            c.execute(sql.SQL("ALTER EVENT TRIGGER {} {}").format(sql.Identifier(trigger), mode))


def run(b: Bench, quick: bool = False, statements: int | None = None, reps: int | None = None,
        log=print) -> list[Row]:
    statements = statements or (600 if quick else 2400)
    reps = reps or (3 if quick else 7)
    db = b.create_db("ddl")
    b.install(db)
    b.psql(db, command="CREATE SCHEMA bench_ddl")
    script = b.tmp / "ddl_script.sql"
    n, expected = write_script(script, statements)
    # warm-up, both modes (catalog caches, file system cache)
    times: dict[str, list[float]] = {"on": [], "off": []}
    tracked: list[int] = []
    for r in range(reps + 1):
        order = ("on", "off") if r % 2 == 0 else ("off", "on")
        for mode in order:
            set_triggers(b, db, mode == "on")
            with b.connect(db) as c:
                # DDL is recorded in the DDL journal; ids come from the hub's sequence
                before = c.execute("SELECT coalesce(max(execution_id), 0) FROM script_tracking.ddl_history"
                                   ).fetchone()[0]
            t = b.timed_psql(db, script)
            with b.connect(db) as c:
                got, distinct_stmts = c.execute(
                    "SELECT count(*), count(DISTINCT statement) FROM script_tracking.ddl_history"
                    " WHERE execution_id > %s", (before,)).fetchone()
            if mode == "on":
                if got != expected or distinct_stmts != n:
                    raise AssertionError(f"DDL tracking: {got} rows for {n} statements "
                                         f"({distinct_stmts} distinct), expected {expected}")
                if r > 0:
                    tracked.append(got)
            elif got != 0:
                raise AssertionError(f"DDL tracker disabled but {got} rows were recorded")
            if r > 0:  # rep 0 is the warm-up
                times[mode].append(t)
            log(f"  ddl rep {r} {mode:3}: {t:.3f} s{' (warm-up)' if r == 0 else ''}")
    set_triggers(b, db, True)
    on, off = median(times["on"]), median(times["off"])
    per_stmt_us = (on - off) / n * 1e6
    return [Row(
        figure=f"DDL overhead ({n} statements, triggers on vs off)",
        value=on, baseline=off, unit="s", target="ratio <= 1.2, every statement tracked",
        met=(on / off <= 1.2 and all(t == expected for t in tracked)),
        extra={"statements": n, "tracked_rows_per_run": expected, "reps": reps,
               "on_s": times["on"], "off_s": times["off"], "overhead_us_per_statement": per_stmt_us},
    )]
