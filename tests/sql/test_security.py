"""Privileges: nothing for PUBLIC; a writer/reader role with USAGE + EXECUTE works
through the SECURITY DEFINER functions but can never write the tables directly."""

from __future__ import annotations

import psycopg
from psycopg import sql
import pytest

from tests.sql import seed_sql

PW = "st-sec-pw-1"
TABLES = ["util.audit_log", "script_tracking.script_execution_h", "script_tracking.script_execution_s",
          "script_tracking.ddl_tracker_filter"]


@pytest.fixture
def roles(installed_db, connect):
    admin = connect(installed_db)
    for r in ("st_plain", "st_writer", "st_reader"):
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(r), sql.Literal(PW)))
    yield admin
    for r in ("st_plain", "st_writer", "st_reader"):
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(r)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(r)))


def _expect_denied(conn, sql, params=()):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql, params)


def test_no_privileges_for_public(installed_db, connect, roles):
    admin = roles
    # catalog: no PUBLIC grants on any function, table or sequence of ours
    leaked = admin.execute("""
        SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE (n.nspname IN ('util', 'script_tracking')
                OR (n.nspname = 'public' AND p.proname IN ('track_operation', 'complete_operation')))
           AND has_function_privilege('st_plain', p.oid, 'EXECUTE')
        UNION ALL
        SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('util', 'script_tracking') AND c.relkind IN ('r', 'v', 'S')
           AND (has_table_privilege('st_plain', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE'))""").fetchall()
    assert leaked == []
    plain = connect(installed_db, user="st_plain", password=PW)
    _expect_denied(plain, seed_sql.TEST1_BASIC_TRACKING)
    _expect_denied(plain, "SELECT complete_operation(%s, true)", (b"x" * 32,))
    _expect_denied(plain, "SELECT util.log_audit_event('A','B','C','D','{}')")
    _expect_denied(plain, seed_sql.TEST3_VIEW_HISTORY)
    for t in TABLES:
        _expect_denied(plain, f"SELECT * FROM {t}")
    _expect_denied(plain, "INSERT INTO util.audit_log (event_type, resource_type) VALUES ('x', 'y')")
    # even with schema USAGE, no direct access
    admin.execute("GRANT USAGE ON SCHEMA util, script_tracking TO st_plain")
    _expect_denied(plain, "INSERT INTO util.audit_log (event_type, resource_type) VALUES ('x', 'y')")
    _expect_denied(plain, "INSERT INTO script_tracking.script_execution_h VALUES "
                          "('\\x00', 'bk', 1, 'n', 'ADHOC', now(), 'me')")
    _expect_denied(plain, "DELETE FROM script_tracking.script_execution_s")
    _expect_denied(plain, "SELECT nextval('script_tracking.script_execution_version_seq')")
    _expect_denied(plain, "SELECT script_tracking.track_operation('x', 'ADHOC')")
    _expect_denied(plain, "INSERT INTO script_tracking.ddl_tracker_filter VALUES ('exclude_schema', 'x')")


def test_writer_and_reader_roles_work_through_definer_functions(installed_db, connect, roles):
    admin = roles
    # what the roles module grants elsewhere
    admin.execute("GRANT USAGE ON SCHEMA script_tracking, util TO st_writer, st_reader")
    admin.execute("GRANT EXECUTE ON FUNCTION public.track_operation(text, text, jsonb),"
                  " public.complete_operation(bytea, boolean, text),"
                  " script_tracking.track_operation(text, text, jsonb),"
                  " script_tracking.complete_operation(bytea, boolean, text) TO st_writer")
    admin.execute("GRANT EXECUTE ON FUNCTION script_tracking.get_execution_history(text, text, text, timestamptz,"
                  " timestamptz, integer) TO st_reader")
    writer = connect(installed_db, user="st_writer", password=PW)
    hk = writer.execute(seed_sql.TEST1_BASIC_TRACKING).fetchone()[0]
    writer.execute("SELECT script_tracking.complete_operation(%s, false, 'oops')", (hk,))
    writer.execute(seed_sql.FINAL_VERIFICATION)
    # the writer still cannot touch the tables or read history
    _expect_denied(writer, "INSERT INTO script_tracking.script_execution_s (script_execution_hk) VALUES (%s)", (hk,))
    _expect_denied(writer, "UPDATE script_tracking.script_execution_s SET status = 'COMPLETED'")
    _expect_denied(writer, "SELECT * FROM util.audit_log")
    _expect_denied(writer, seed_sql.TEST3_VIEW_HISTORY)

    reader = connect(installed_db, user="st_reader", password=PW)
    rows = reader.execute("SELECT script_name, status, db_session_user FROM script_tracking.get_execution_history()"
                          " WHERE script_type <> 'DDL'").fetchall()  # (the GRANTs above were tracked as DDL)
    assert rows == [("Deployment Verification Test", "COMPLETED", "st_writer"), ("Test Script", "FAILED", "st_writer")]
    _expect_denied(reader, seed_sql.TEST1_BASIC_TRACKING)
    _expect_denied(reader, "SELECT * FROM script_tracking.script_execution_h")
    assert admin.execute("SELECT DISTINCT actor FROM util.audit_log").fetchall() == [("st_writer",)]


def test_writer_needs_only_the_wrapper_grant(installed_db, connect, roles):
    """Granting just the public wrappers is enough (they are SECURITY DEFINER too)."""
    admin = roles
    admin.execute("GRANT EXECUTE ON FUNCTION public.track_operation(text, text, jsonb),"
                  " public.complete_operation(bytea, boolean, text) TO st_writer")
    writer = connect(installed_db, user="st_writer", password=PW)
    writer.execute(seed_sql.FINAL_VERIFICATION)
    _expect_denied(writer, "SELECT script_tracking.track_operation('x', 'ADHOC')")


def test_search_path_hijack_has_no_effect(installed_db, connect, roles):
    """A caller's search_path with look-alike objects does not redirect the definer functions."""
    admin = roles
    admin.execute("GRANT EXECUTE ON FUNCTION public.track_operation(text, text, jsonb) TO st_writer")
    admin.execute("CREATE SCHEMA evil AUTHORIZATION st_writer")
    writer = connect(installed_db, user="st_writer", password=PW)
    writer.execute("CREATE TABLE evil.script_execution_h (x int)")
    writer.execute("CREATE FUNCTION evil.sha256(bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT '\\x00'::bytea $$")
    writer.execute("SET search_path = evil, public")
    hk = writer.execute("SELECT track_operation('hijack', 'ADHOC')").fetchone()[0]
    assert len(hk) == 32
    assert admin.execute("SELECT count(*) FROM script_tracking.script_execution_h WHERE script_name = 'hijack'"
                         ).fetchone()[0] == 1
    admin.execute("DROP SCHEMA evil CASCADE")


def test_create_on_public_differs_by_major_and_the_documented_revoke_closes_it(installed_db, connect, roles,
                                                                                pg_version):
    """Before PostgreSQL 15 every role may CREATE in schema public, so another role
    could add an overload of the unqualified wrappers that callers would resolve to.
    docs/sql.md tells those servers' owners to revoke it; after that, on every major,
    an unprivileged role cannot add one."""
    admin = roles
    public_may_create = admin.execute(
        "SELECT has_schema_privilege('st_plain', 'public', 'CREATE')").fetchone()[0]
    assert public_may_create == (pg_version < 15)
    admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    plain = connect(installed_db, user="st_plain", password=PW)
    _expect_denied(plain, "CREATE FUNCTION public.track_operation(text, text) RETURNS bytea "
                          "LANGUAGE sql AS $$ SELECT '\\x00'::bytea $$")
