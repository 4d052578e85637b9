"""Who may finish an execution, how large inputs may be, and how much of a bad input an
error echoes (issue 11): through the real functions of a psql install."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from tests.sql.conftest import SQL_DIR, counts

PW = "st-hard-pw-1"
LOGINS = ("st_w1", "st_w2", "st_boss")
WRITER_FUNCTIONS = ("script_tracking.track_operation(text, text, jsonb)",
                    "script_tracking.complete_operation(bytea, boolean, text)",
                    "public.track_operation(text, text, jsonb)", "public.complete_operation(bytea, boolean, text)")


@pytest.fixture
def writers(installed_db, connect):
    """Three writer logins; returns (admin, {login: connection})."""
    admin = connect(installed_db)
    for r in LOGINS:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(r), sql.Literal(PW)))
        admin.execute(sql.SQL("GRANT USAGE ON SCHEMA script_tracking TO {}").format(sql.Identifier(r)))
        for f in WRITER_FUNCTIONS:
            admin.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(f), sql.Identifier(r)))
    yield admin, {r: connect(installed_db, user=r, password=PW) for r in LOGINS}
    for r in LOGINS:
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(r)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(r)))


def _error(conn: psycopg.Connection, query: str, params=()) -> psycopg.errors.Diagnostic:
    with pytest.raises(psycopg.Error) as exc:
        conn.execute(query, params)
    return exc.value.diag


def _complete(conn, hk, success=True, message=None):
    conn.execute("SELECT complete_operation(%s, %s, %s)", (hk, success, message))


def test_another_writer_cannot_complete_probe_or_stall_an_execution(writers):
    admin, w = writers
    hk = w["st_w1"].execute("SELECT track_operation('nightly load', 'DATA_FIX')").fetchone()[0]
    unknown = _error(w["st_w2"], "SELECT complete_operation(%s, false)", (bytes(32),))
    foreign = _error(w["st_w2"], "SELECT complete_operation(%s, false, 'sabotage')", (hk,))
    # the same SQLSTATE and the same words as for a key that does not exist
    assert (unknown.sqlstate, foreign.sqlstate) == ("ST004", "ST004")
    assert foreign.message_primary == unknown.message_primary.replace(bytes(32).hex(), hk.hex())
    # a failed attempt inside an open transaction holds no lock on the execution
    w["st_w2"].execute("BEGIN")
    _error(w["st_w2"], "SELECT complete_operation(%s, false)", (hk,))
    w["st_w1"].execute("SET lock_timeout = '1s'")
    _complete(w["st_w1"], hk)
    w["st_w2"].execute("ROLLBACK")
    # once completed, another writer still learns nothing (ST004, not ST005)
    assert _error(w["st_w2"], "SELECT complete_operation(%s, true)", (hk,)).sqlstate == "ST004"
    assert _error(w["st_w1"], "SELECT complete_operation(%s, true)", (hk,)).sqlstate == "ST005"
    statuses = admin.execute("SELECT status, db_session_user FROM script_tracking.script_execution_s"
                             " WHERE script_execution_hk = %s ORDER BY version_number", (hk,)).fetchall()
    assert statuses == [("RUNNING", "st_w1"), ("COMPLETED", "st_w1")]


def test_a_login_granted_the_starters_role_may_complete(writers):
    admin, w = writers
    hk = w["st_w1"].execute("SELECT track_operation('release 7', 'DEPLOYMENT')").fetchone()[0]
    assert _error(w["st_boss"], "SELECT complete_operation(%s, false)", (hk,)).sqlstate == "ST004"
    admin.execute("GRANT st_w1 TO st_boss")
    _complete(w["st_boss"], hk, False, "stopped by the release manager")
    row = admin.execute("SELECT status, db_session_user, error_message FROM script_tracking.get_execution_history()"
                        " WHERE script_execution_hk = %s", (hk,)).fetchone()
    assert row == ("FAILED", "st_boss", "stopped by the release manager")
    # the right is not mutual: st_w1 may not complete st_boss's executions
    other = w["st_boss"].execute("SELECT track_operation('audit', 'VALIDATION')").fetchone()[0]
    assert _error(w["st_w1"], "SELECT complete_operation(%s, true)", (other,)).sqlstate == "ST004"
    # a superuser is a member of every role
    _complete(admin, other, False, "closed by the DBA")



def test_rights_follow_the_recorded_login_name_and_outlive_a_dropped_login(writers, connect, installed_db):
    """The right goes by the login name recorded in db_session_user (documented): once that
    login is dropped nobody is a member of it, and a superuser may still close its
    executions while other logins may not."""
    admin, w = writers
    admin.execute(sql.SQL("CREATE ROLE st_gone LOGIN PASSWORD {}").format(sql.Literal(PW)))
    admin.execute("GRANT USAGE ON SCHEMA script_tracking TO st_gone")
    admin.execute("GRANT EXECUTE ON FUNCTION public.track_operation(text, text, jsonb) TO st_gone")
    gone = connect(installed_db, user="st_gone", password=PW)
    hk = gone.execute("SELECT track_operation('left behind', 'ADHOC')").fetchone()[0]
    gone.close()
    admin.execute("DROP OWNED BY st_gone")
    admin.execute("DROP ROLE st_gone")
    assert _error(w["st_w1"], "SELECT complete_operation(%s, false)", (hk,)).sqlstate == "ST004"
    _complete(admin, hk, False, "its login was dropped")
    assert admin.execute("SELECT status FROM script_tracking.get_execution_history() WHERE script_execution_hk = %s",
                         (hk,)).fetchone() == ("FAILED",)

def test_hash_keys_cannot_be_derived_from_name_and_id(writers):
    admin, w = writers
    hk = w["st_w1"].execute("SELECT track_operation('guess me', 'ADHOC')").fetchone()[0]
    bk, derived = admin.execute("SELECT script_execution_bk, sha256(convert_to(script_execution_bk, 'UTF8'))"
                                " FROM script_tracking.script_execution_h WHERE script_execution_hk = %s",
                                (hk,)).fetchone()
    assert bk.startswith("guess me#") and bytes(derived) != hk and len(hk) == 32


@pytest.mark.parametrize("limit, default, call, sqlstate", [
    ("script_name_chars", 255, "SELECT track_operation(%(v)s, 'ADHOC')", "ST002"),
    ("details_bytes", 65536, "SELECT track_operation('n', 'ADHOC', jsonb_build_object('k', %(v)s::text))", "ST007"),
    ("error_message_chars", 65536, "SELECT complete_operation(track_operation('n', 'ADHOC'), false, %(v)s)", "ST008"),
])
def test_size_limits_at_and_past_each_default_and_configured_limit(installed_db, connect, limit, default, call,
                                                                   sqlstate):
    conn = connect(installed_db)
    overhead = len('{"k": ""}') if limit == "details_bytes" else 0

    def value(size: int) -> str:
        return "é" * (size - overhead) if limit != "details_bytes" else "x" * (size - overhead)

    for configured in (None, 100):
        if configured is not None:
            conn.execute("INSERT INTO script_tracking.tracking_limit VALUES (%s, %s)", (limit, configured))
        bound = configured or default
        conn.execute(call, {"v": value(bound)})  # at the limit: accepted
        before = counts(conn)
        diag = _error(conn, call, {"v": value(bound + 1)})
        assert diag.sqlstate == sqlstate and f"at most {bound}" in diag.message_primary, diag.message_primary
        assert counts(conn) == before  # nothing half-written
    # a limit out of range is refused by the table itself, not an internal error
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE script_tracking.tracking_limit SET value = %s WHERE name = %s",
                     (256 if limit == "script_name_chars" else 0, limit))


@pytest.mark.parametrize("call, param, sqlstate", [
    ("SELECT track_operation('n', %s)", "T" * 1_000_000, "ST003"),
    ("SELECT * FROM script_tracking.get_execution_history(p_script_type => %s)", "T" * 1_000_000, "ST003"),
    ("SELECT * FROM script_tracking.get_execution_history(p_status => %s)", "S" * 1_000_000, "ST006"),
    ("SELECT complete_operation(%s, true)", b"\x01" * 1_000_000, "ST004"),
])
def test_errors_echo_a_short_prefix_of_a_huge_input(installed_db, connect, call, param, sqlstate):
    diag = _error(connect(installed_db), call, (param,))
    assert diag.sqlstate == sqlstate
    assert len(diag.message_primary) < 200 and "characters)" in diag.message_primary, diag.message_primary
    assert len(diag.message_hint or "") < 200


# Every object of ours with its owner: (kind, name, owner, owner is a superuser)
OWNERS = """
SELECT 'schema', n.nspname::text, r.rolname::text, r.rolsuper
  FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname IN ('util', 'script_tracking')
UNION ALL
SELECT 'relation', c.oid::regclass::text, r.rolname, r.rolsuper
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner
 WHERE n.nspname IN ('util', 'script_tracking')
UNION ALL
SELECT 'function', p.oid::regprocedure::text, r.rolname, r.rolsuper
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
 WHERE n.nspname IN ('util', 'script_tracking')
    OR (n.nspname = 'public' AND p.proname IN ('track_operation', 'complete_operation'))
ORDER BY 1, 2"""


def test_a_psql_install_is_owned_by_a_nologin_role_that_is_not_a_superuser(installed_db, connect):
    conn = connect(installed_db)
    owners = conn.execute(OWNERS).fetchall()
    assert len(owners) > 30 and {(o[2], o[3]) for o in owners} == {("script_tracking_owner", False)}, owners
    assert conn.execute("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles"
                        " WHERE rolname = 'script_tracking_owner'").fetchone() == (False,) * 5
    # the definer functions and the DDL tracker work as that role
    hk = conn.execute("SELECT track_operation('owned', 'ADHOC')").fetchone()[0]
    _complete(conn, hk)
    conn.execute("CREATE TABLE public.tracked_by_the_owner (id int)")
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_history"
                        " WHERE object_identity = 'public.tracked_by_the_owner'").fetchone()[0] == 1
    # nothing of the install itself was recorded as DDL
    assert conn.execute("SELECT count(*) FROM script_tracking.ddl_history").fetchone()[0] == 1


def test_uninstall_drops_the_owner_role_when_no_other_database_uses_it(pg, new_db, connect):
    first, second = new_db(), new_db()
    connect(first).execute("DROP ROLE IF EXISTS script_tracking_owner")  # left by an earlier psql install
    for db in (first, second):
        pg.psql(db, file=SQL_DIR / "install.sql")

    def owner_exists() -> bool:
        return bool(connect(first).execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'script_tracking_owner'").fetchone()[0])

    pg.psql(first, file=SQL_DIR / "uninstall.sql")
    assert owner_exists()  # the second database's installation still uses it
    pg.psql(second, file=SQL_DIR / "uninstall.sql")
    assert not owner_exists()
    pg.psql(second, file=SQL_DIR / "uninstall.sql")  # still safe to run twice


def test_a_psql_install_hands_over_only_its_own_objects(pg, db, connect):
    """A util schema that existed before, with the user's objects in it, keeps its owner."""
    conn = connect(db)
    conn.execute("CREATE SCHEMA util")
    conn.execute("CREATE TABLE util.users_own (v int)")
    conn.execute("CREATE FUNCTION util.users_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    pg.psql(db, file=SQL_DIR / "install.sql")
    owners = dict(((kind, name), owner) for kind, name, owner, _ in conn.execute(OWNERS).fetchall())
    assert owners.pop(("schema", "util")) == "postgres"
    assert owners.pop(("relation", "util.users_own")) == "postgres"
    assert owners.pop(("function", "util.users_fn()")) == "postgres"
    assert set(owners.values()) == {"script_tracking_owner"}, owners
