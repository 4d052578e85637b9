"""The automatic DDL tracker (event triggers auto_ddl_tracker / auto_ddl_tracker_drop)."""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest

from tests.sql.conftest import Notices, ddl_rows, max_execution_id

WORKLOAD = [
    ("CREATE TABLE public.orders (id int PRIMARY KEY, note text)",
     [("CREATE TABLE", "table", "public.orders"), ("CREATE INDEX", "index", "public.orders_pkey")]),
    ("CREATE INDEX orders_note_idx ON public.orders (note)",
     [("CREATE INDEX", "index", "public.orders_note_idx")]),
    ("CREATE VIEW public.orders_v AS SELECT id, note FROM public.orders",
     [("CREATE VIEW", "view", "public.orders_v")]),
    ("CREATE FUNCTION public.add_one(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1'",
     [("CREATE FUNCTION", "function", "public.add_one(integer)")]),
    ("CREATE TYPE public.mood AS ENUM ('happy', 'sad')",
     [("CREATE TYPE", "type", "public.mood")]),
    ("ALTER TABLE public.orders ADD COLUMN mood public.mood",
     [("ALTER TABLE", "table", "public.orders")]),
    ("ALTER TABLE public.orders DROP COLUMN mood",
     [("ALTER TABLE", "table", "public.orders")]),
    ("CREATE SCHEMA app CREATE TABLE items (id int) CREATE VIEW items_v AS SELECT id FROM items",
     [("CREATE SCHEMA", "schema", "app"), ("CREATE TABLE", "table", "app.items"),
      ("CREATE VIEW", "view", "app.items_v")]),
    ("CREATE SEQUENCE app.seq1", [("CREATE SEQUENCE", "sequence", "app.seq1")]),
    ("COMMENT ON TABLE public.orders IS 'orders'", [("COMMENT", "table", "public.orders")]),
    ("DROP VIEW public.orders_v", [("DROP VIEW", "view", "public.orders_v")]),
    ("DROP FUNCTION public.add_one(int)", [("DROP FUNCTION", "function", "public.add_one(integer)")]),
    ("DROP TABLE public.orders", [("DROP TABLE", "table", "public.orders")]),
    ("DROP TYPE public.mood", [("DROP TYPE", "type", "public.mood")]),
    ("DROP SCHEMA app CASCADE", [("DROP SCHEMA", "schema", "app")]),
]


def test_mixed_workload_tracked_exactly_once_in_order(installed_db, connect):
    conn = connect(installed_db)
    notes = Notices(conn)
    start = max_execution_id(conn)
    expected = []
    for stmt, rows in WORKLOAD:
        conn.execute(stmt)
        expected += rows
    assert ddl_rows(conn, start) == expected
    assert notes.warnings() == []
    # exactly one journal row per tracked DDL, nothing in the hub or satellite, no strays
    assert conn.execute(
        "SELECT count(*), count(DISTINCT execution_id), count(DISTINCT version_number),"
        "       bool_and(db_session_user = 'postgres'), bool_and(end_time >= executed_at)"
        "  FROM script_tracking.ddl_journal").fetchone() == (len(expected), len(expected), len(expected), True, True)
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_s").fetchone()[0] == 0
    # ... and each is a COMPLETED DDL execution in the history, with a key of its own
    hist = conn.execute("SELECT script_execution_hk, script_type, status, script_name, details ->> 'command_tag',"
                        "       details ->> 'object_identity'"
                        "  FROM script_tracking.get_execution_history(p_limit => 1000)"
                        " ORDER BY execution_id").fetchall()
    assert [(r[4], r[5]) for r in hist] == [(tag, ident) for tag, _, ident in expected]
    assert all(r[1:3] == ("DDL", "COMPLETED") and r[3] == "AUTO_DDL_" + r[4].replace(" ", "_") for r in hist)
    assert len({bytes(r[0]) for r in hist}) == len(hist)
    assert [bytes(r[0]) for r in hist] == [bytes(r[0]) for r in conn.execute(
        "SELECT script_execution_hk FROM script_tracking.ddl_history ORDER BY execution_id")]
    # the statement text is recorded with each command
    stmts = [r[0] for r in conn.execute("SELECT statement FROM script_tracking.ddl_history ORDER BY execution_id")]
    assert stmts[0] == WORKLOAD[0][0] and stmts[-1] == WORKLOAD[-1][0]
    cascaded = conn.execute("SELECT cascaded FROM script_tracking.ddl_history WHERE command_tag = 'DROP SCHEMA'"
                            ).fetchone()[0]
    assert {c["object_identity"] for c in cascaded} == {"app.items", "app.items_v", "app.seq1"}


def test_drop_cascade_records_named_objects_only(installed_db, connect):
    conn = connect(installed_db)
    conn.execute("CREATE TABLE public.base (id int)")
    conn.execute("CREATE VIEW public.dep1 AS SELECT id FROM public.base")
    conn.execute("CREATE VIEW public.dep2 AS SELECT id FROM public.dep1")
    conn.execute("CREATE TABLE public.other (id int)")
    start = max_execution_id(conn)
    conn.execute("DROP TABLE public.base CASCADE")
    assert ddl_rows(conn, start) == [("DROP TABLE", "table", "public.base")]
    cascaded = conn.execute("SELECT cascaded FROM script_tracking.ddl_history WHERE execution_id > %s",
                            (start,)).fetchone()[0]
    assert sorted(c["object_identity"] for c in cascaded) == ["public.dep1", "public.dep2"]
    start = max_execution_id(conn)
    conn.execute("CREATE TABLE public.more (id int)")
    conn.execute("DROP TABLE public.other, public.more")
    rows = ddl_rows(conn, start)
    assert rows[0] == ("CREATE TABLE", "table", "public.more")
    assert sorted(rows[1:]) == [("DROP TABLE", "table", "public.more"), ("DROP TABLE", "table", "public.other")]


def test_alter_that_cascades_records_what_it_removed(installed_db, connect):
    """ALTER TABLE ... DROP COLUMN ... CASCADE removes a view on the column: the ALTER's row
    (ddl_command_end) names only the table, so sql_drop records the dropped column with the
    view in cascaded; an ALTER that removes nothing else keeps its one row."""
    conn = connect(installed_db)
    conn.execute("CREATE TABLE public.base (a int, b int, c int)")
    conn.execute("CREATE VIEW public.on_b AS SELECT b FROM public.base")
    start = max_execution_id(conn)
    conn.execute("ALTER TABLE public.base DROP COLUMN b CASCADE")
    conn.execute("ALTER TABLE public.base DROP COLUMN c")
    assert ddl_rows(conn, start) == [("ALTER TABLE", "table column", "public.base.b"),
                                     ("ALTER TABLE", "table", "public.base"),
                                     ("ALTER TABLE", "table", "public.base")]
    assert conn.execute("SELECT record_source, cascaded FROM script_tracking.ddl_history WHERE execution_id > %s"
                        " ORDER BY execution_id", (start,)).fetchall() == [
        ("event_trigger:sql_drop", [{"object_type": "view", "object_identity": "public.on_b"}]),
        ("event_trigger:ddl_command_end", None), ("event_trigger:ddl_command_end", None)]


def test_ddl_inside_blocks_and_rollback(installed_db, connect):
    conn = connect(installed_db)
    start = max_execution_id(conn)
    conn.execute("DO $$ BEGIN EXECUTE 'CREATE TABLE public.from_do (x int)'; END $$")
    with conn.transaction():
        conn.execute("CREATE TABLE public.in_tx (x int)")
    try:
        with conn.transaction():
            conn.execute("CREATE TABLE public.rolled_back (x int)")
            conn.execute("DROP TABLE public.from_do")
            raise RuntimeError("rollback")
    except RuntimeError:
        pass
    assert ddl_rows(conn, start) == [("CREATE TABLE", "table", "public.from_do"),
                                     ("CREATE TABLE", "table", "public.in_tx")]
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_journal").fetchone()[0] == 2


def test_non_superuser_ddl_is_tracked_with_its_user(installed_db, connect):
    admin = connect(installed_db)
    admin.execute("CREATE ROLE ddl_dev LOGIN PASSWORD 'ddl-dev-pw'")
    try:
        admin.execute("CREATE SCHEMA dev AUTHORIZATION ddl_dev")
        dev = connect(installed_db, user="ddl_dev", password="ddl-dev-pw")
        notes = Notices(dev)
        start = max_execution_id(admin)
        dev.execute("CREATE TABLE dev.mine (x int)")
        dev.execute("DROP TABLE dev.mine")
        assert notes.warnings() == []
        assert admin.execute("SELECT command_tag, object_identity, db_session_user FROM script_tracking.ddl_history"
                             " WHERE execution_id > %s ORDER BY execution_id", (start,)).fetchall() == [
            ("CREATE TABLE", "dev.mine", "ddl_dev"), ("DROP TABLE", "dev.mine", "ddl_dev")]
        # ...but that user cannot write the tracking tables or read them directly
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            dev.execute("SELECT count(*) FROM script_tracking.script_execution_h")
        dev.close()
    finally:
        admin.execute("DROP SCHEMA IF EXISTS dev CASCADE")
        admin.execute("DROP OWNED BY ddl_dev")
        admin.execute("DROP ROLE ddl_dev")


# ---------------------------------------------------------------- failure paths

WARN_RE = re.compile(r"script_tracking: DDL tracking skipped for .* \(SQLSTATE [0-9A-Z]{5}\)")


def _sqlstate(msg: str) -> str:
    return re.search(r"SQLSTATE ([0-9A-Z]{5})", msg).group(1)


@pytest.mark.parametrize("locked", ["script_tracking.ddl_journal", "script_tracking.ddl_tracker_filter"])
def test_locked_tracking_table_does_not_block_ddl(installed_db, connect, locked):
    conn = connect(installed_db)
    notes = Notices(conn)
    holder = connect(installed_db, autocommit=False)
    holder.execute(f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE")
    try:
        for stmt in ("CREATE TABLE public.locked_case (x int)", "DROP TABLE public.locked_case"):
            notes.clear()
            t0 = time.monotonic()
            conn.execute(stmt)
            elapsed = time.monotonic() - t0
            assert elapsed < 2.0, f"{stmt}: {elapsed:.2f}s"
            warns = notes.warnings()
            assert len(warns) == 1 and WARN_RE.search(warns[0]), notes.items
            assert _sqlstate(warns[0]) == "55P03"  # lock_not_available
    finally:
        holder.rollback()
    # the DDL happened, its tracking didn't, nothing half-written
    assert conn.execute("SELECT to_regclass('public.locked_case')").fetchone()[0] is None
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_journal").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0] == 0
    # and tracking resumes once the lock is gone; lock_timeout is not left behind
    conn.execute("CREATE TABLE public.after_lock (x int)")
    assert ddl_rows(conn) == [("CREATE TABLE", "table", "public.after_lock")]
    assert conn.execute("SHOW lock_timeout").fetchone()[0] == "0"


def test_revoked_privileges_do_not_break_ddl(installed_db, connect):
    conn = connect(installed_db)
    notes = Notices(conn)
    conn.execute("CREATE ROLE st_tracker_owner NOLOGIN")
    try:
        for fn in ("script_tracking.ddl_tracker_command_end()", "script_tracking.ddl_tracker_sql_drop()"):
            conn.execute(f"ALTER FUNCTION {fn} OWNER TO st_tracker_owner")
        conn.execute("GRANT USAGE ON SCHEMA script_tracking TO st_tracker_owner")
        conn.execute("GRANT SELECT ON script_tracking.ddl_tracker_filter, script_tracking.ddl_tracker_filter_sets"
                     " TO st_tracker_owner")
        conn.execute("GRANT USAGE ON SEQUENCE script_tracking.script_execution_id_seq,"
                     " script_tracking.script_execution_version_seq TO st_tracker_owner")
        conn.execute("GRANT SELECT, INSERT ON script_tracking.ddl_journal TO st_tracker_owner")
        conn.execute("GRANT EXECUTE ON FUNCTION script_tracking.ddl_statement_text(text, text, text[], boolean),"
                     " script_tracking.ddl_statement_plain(text), script_tracking.ddl_secret_words(),"
                     " script_tracking.ddl_filter_allows(text, text)"
                     " TO st_tracker_owner")
        notes.clear()
        start = max_execution_id(conn)
        conn.execute("CREATE TABLE public.priv_ok (x int)")  # positive control: the owner can track
        assert notes.warnings() == []
        assert ddl_rows(conn, start) == [("CREATE TABLE", "table", "public.priv_ok")]
        journal_rows = conn.execute("SELECT count(*) FROM script_tracking.ddl_journal").fetchone()[0]

        conn.execute("REVOKE INSERT ON script_tracking.ddl_journal FROM st_tracker_owner")
        for stmt in ("CREATE TABLE public.priv_case (x int)", "DROP TABLE public.priv_case"):
            notes.clear()
            conn.execute(stmt)
            warns = notes.warnings()
            assert len(warns) == 1 and _sqlstate(warns[0]) == "42501", notes.items
        # nothing written, and the sequences' numbers drawn are simply unused
        assert ddl_rows(conn, start) == [("CREATE TABLE", "table", "public.priv_ok")]
        assert conn.execute("SELECT count(*) FROM script_tracking.ddl_journal").fetchone()[0] == journal_rows

        conn.execute("REVOKE USAGE ON SCHEMA script_tracking FROM st_tracker_owner")
        notes.clear()
        conn.execute("CREATE TABLE public.priv_case2 (x int)")
        assert len(notes.warnings()) == 1 and _sqlstate(notes.warnings()[0]) == "42501"
        assert conn.execute("SELECT to_regclass('public.priv_case2') IS NOT NULL").fetchone()[0]
    finally:
        for fn in ("script_tracking.ddl_tracker_command_end()", "script_tracking.ddl_tracker_sql_drop()"):
            conn.execute(f"ALTER FUNCTION {fn} OWNER TO postgres")
        conn.execute("DROP OWNED BY st_tracker_owner")
        conn.execute("DROP ROLE st_tracker_owner")


@pytest.mark.parametrize("dropped", ["script_tracking.ddl_journal", "script_tracking.ddl_tracker_filter"])
def test_dropped_tracking_table_does_not_break_ddl(installed_db, connect, dropped):
    conn = connect(installed_db)
    notes = Notices(conn)
    conn.execute(f"DROP TABLE {dropped} CASCADE")
    for stmt in ("CREATE TABLE public.orphan (x int)", "ALTER TABLE public.orphan ADD COLUMN y int",
                 "DROP TABLE public.orphan"):
        notes.clear()
        t0 = time.monotonic()
        conn.execute(stmt)
        assert time.monotonic() - t0 < 2.0
        warns = notes.warnings()
        assert len(warns) == 1 and _sqlstate(warns[0]) == "42P01", notes.items  # undefined_table
    assert conn.execute("SELECT count(*) FROM script_tracking.script_execution_h").fetchone()[0] == 0
    if dropped != "script_tracking.ddl_journal":
        assert conn.execute("SELECT count(*) FROM script_tracking.ddl_journal").fetchone()[0] == 0


def test_tracker_runs_no_ddl_itself_and_does_not_recurse(installed_db, connect):
    """Many DDL statements in one transaction: one record each, no nested tracking."""
    conn = connect(installed_db)
    with conn.transaction():
        for i in range(50):
            conn.execute(f"CREATE TABLE public.r{i} (x int)")
    assert conn.execute("SELECT count(*), count(DISTINCT object_identity) FROM script_tracking.ddl_history"
                        ).fetchone() == (50, 50)


# ---------------------------------------------------------------------- filters

def _run(conn, stmts):
    start = max_execution_id(conn)
    for s in stmts:
        conn.execute(s)
    return [(tag, ident) for tag, _, ident in ddl_rows(conn, start)]


FILTER_WORKLOAD = [
    "CREATE SCHEMA keep", "CREATE SCHEMA skip",
    "CREATE TABLE keep.t (x int)", "CREATE TABLE skip.t (x int)", "CREATE TABLE public.t (x int)",
    "CREATE VIEW keep.v AS SELECT 1 AS one",
    "DROP TABLE keep.t", "DROP TABLE skip.t", "DROP TABLE public.t",
    "DROP SCHEMA keep CASCADE", "DROP SCHEMA skip CASCADE",
]


@pytest.mark.parametrize("filters, expected", [
    ([], [("CREATE SCHEMA", "keep"), ("CREATE SCHEMA", "skip"), ("CREATE TABLE", "keep.t"),
          ("CREATE TABLE", "skip.t"), ("CREATE TABLE", "public.t"), ("CREATE VIEW", "keep.v"),
          ("DROP TABLE", "keep.t"), ("DROP TABLE", "skip.t"), ("DROP TABLE", "public.t"),
          ("DROP SCHEMA", "keep"), ("DROP SCHEMA", "skip")]),
    ([("exclude_schema", "skip")],
     [("CREATE SCHEMA", "keep"), ("CREATE TABLE", "keep.t"), ("CREATE TABLE", "public.t"),
      ("CREATE VIEW", "keep.v"), ("DROP TABLE", "keep.t"), ("DROP TABLE", "public.t"), ("DROP SCHEMA", "keep")]),
    ([("include_schema", "keep")],
     [("CREATE SCHEMA", "keep"), ("CREATE TABLE", "keep.t"), ("CREATE VIEW", "keep.v"),
      ("DROP TABLE", "keep.t"), ("DROP SCHEMA", "keep")]),
    ([("include_schema", "keep"), ("include_schema", "public"), ("exclude_schema", "keep")],
     [("CREATE TABLE", "public.t"), ("DROP TABLE", "public.t")]),
    ([("include_tag", "create table"), ("include_tag", "DROP SCHEMA")],
     [("CREATE TABLE", "keep.t"), ("CREATE TABLE", "skip.t"), ("CREATE TABLE", "public.t"),
      ("DROP SCHEMA", "keep"), ("DROP SCHEMA", "skip")]),
    ([("exclude_tag", "DROP TABLE"), ("exclude_tag", "create schema"), ("exclude_tag", "DROP SCHEMA")],
     [("CREATE TABLE", "keep.t"), ("CREATE TABLE", "skip.t"), ("CREATE TABLE", "public.t"),
      ("CREATE VIEW", "keep.v")]),
    ([("include_tag", "DROP TABLE"), ("exclude_tag", "DROP TABLE"), ("include_tag", "CREATE VIEW")],
     [("CREATE VIEW", "keep.v")]),
    ([("include_schema", "keep"), ("include_tag", "DROP TABLE")], [("DROP TABLE", "keep.t")]),
])
def test_filters(installed_db, connect, filters, expected):
    conn = connect(installed_db)
    for kind, value in filters:
        conn.execute("INSERT INTO script_tracking.ddl_tracker_filter (kind, value) VALUES (%s, %s)", (kind, value))
    assert _run(conn, FILTER_WORKLOAD) == expected


@pytest.mark.parametrize("kind, expected", [
    ("exclude_schema", []),
    ("include_schema", [("CREATE SCHEMA", '"Mixed Case"'), ("CREATE TABLE", '"Mixed Case".t'),
                        ("DROP SCHEMA", '"Mixed Case"')]),
])
def test_schema_filter_names_a_schema_as_it_is(installed_db, connect, kind, expected):
    """A schema filter holds a schema's name (Mixed Case), PostgreSQL gives a schema's
    identity quoted ("Mixed Case"): CREATE and DROP SCHEMA compare the name, as the commands
    on the schema's objects do, and record it as their schema_name."""
    conn = connect(installed_db)
    conn.execute("INSERT INTO script_tracking.ddl_tracker_filter VALUES (%s, 'Mixed Case')", (kind,))
    start = max_execution_id(conn)
    assert _run(conn, ['CREATE SCHEMA "Mixed Case"', 'CREATE TABLE "Mixed Case".t (x int)',
                       'DROP SCHEMA "Mixed Case" CASCADE']) == expected
    assert {r[0] for r in conn.execute("SELECT schema_name FROM script_tracking.ddl_history WHERE execution_id > %s",
                                       (start,))} == ({"Mixed Case"} if expected else set())


def test_filter_rule_read_only_while_the_filter_has_rows(installed_db, connect):
    """Every DDL statement pays for what the tracker reads: without a filter row the rule
    (ddl_filter_allows, its view) is not evaluated at all, with one it is (shown by refusing
    the tracker the filter's view); its rows deleted, it is not again."""
    conn = connect(installed_db)
    notes = Notices(conn)
    view = "script_tracking.ddl_tracker_filter_sets"
    conn.execute(f"REVOKE SELECT ON {view} FROM script_tracking_owner")
    assert _run(conn, ["CREATE TABLE public.g1 (x int)", "DROP TABLE public.g1"]) == [
        ("CREATE TABLE", "public.g1"), ("DROP TABLE", "public.g1")]
    assert notes.warnings() == []

    conn.execute("INSERT INTO script_tracking.ddl_tracker_filter VALUES ('exclude_schema', 'skip')")
    for stmt in ("CREATE TABLE public.g2 (x int)", "DROP TABLE public.g2"):
        notes.clear()
        conn.execute(stmt)
        warns = notes.warnings()
        assert len(warns) == 1 and _sqlstate(warns[0]) == "42501", notes.items  # the rule was read

    conn.execute("DELETE FROM script_tracking.ddl_tracker_filter")  # a page of dead rows stays
    notes.clear()
    assert _run(conn, ["CREATE TABLE public.g3 (x int)"]) == [("CREATE TABLE", "public.g3")]
    assert notes.warnings() == []
    conn.execute(f"GRANT SELECT ON {view} TO script_tracking_owner")


def test_filter_table_rejects_unknown_kind(installed_db, connect):
    conn = connect(installed_db)
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO script_tracking.ddl_tracker_filter VALUES ('include_role', 'x')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO script_tracking.ddl_tracker_filter VALUES ('exclude_tag', 'GRANT'),"
                     " ('exclude_tag', 'GRANT')")
