"""The whole lifecycle of a stack through the real CLI against a real PostgreSQL:
install, no-op, DDL tracking off and on, an edited function, drift repaired,
role privileges, destroy and install again."""

import re

import psycopg
import pytest

from tests.e2e.conftest import NONE_OF_OURS, ours_in_catalog
from tests.sql import seed_sql
from tests.sql.test_hardening import OWNERS

WRAPPER = "public.track_operation(text, text, jsonb)"
WRAPPER_BODY = "SELECT script_tracking.track_operation(p_script_name, p_script_type, p_details)"


# (through the history function: DDL is in the DDL journal, other executions in the hub and satellite)
ALL = "script_tracking.get_execution_history(p_limit => 1000000)"


def tracked(project, name_like: str) -> int:
    return project.sql(f"SELECT count(*) FROM {ALL} WHERE script_name LIKE %s", (name_like,))[0][0]


def executions(project) -> int:
    return project.sql(f"SELECT count(*) FROM {ALL}")[0][0]


def history(project) -> set[tuple]:
    return set(project.sql(f"SELECT script_execution_hk, version_number, status FROM {ALL}"))


def run_seed_validation(project) -> None:
    """The seed's validation SQL, verbatim, as a user would run it."""
    with psycopg.connect(project.dsn, autocommit=True) as conn:
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        assert conn.execute(seed_sql.TEST1_BASIC_TRACKING).fetchone()[0] is not None
        for stmt in seed_sql.TEST2_STATEMENTS:
            conn.execute(stmt)
        assert conn.execute(seed_sql.TEST3_VIEW_HISTORY).fetchall()
        conn.execute(seed_sql.FINAL_VERIFICATION)
        assert seed_sql.FINAL_VERIFICATION_NOTICE in notices


def test_lifecycle(project):
    # 1. up from an empty database; the seed's validation SQL then passes verbatim
    project.up()
    run_seed_validation(project)
    assert tracked(project, "%CREATE_TABLE%") >= 1 and tracked(project, "%DROP_TABLE%") >= 1
    # every object of ours belongs to the owner role, a NOLOGIN role that is no superuser
    owners = project.sql(OWNERS)
    assert len(owners) > 30 and {(o[2], o[3]) for o in owners} == {(project.owner, False)}, owners
    assert project.sql("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s",
                       (project.owner,)) == [(False, False)]

    # 2. a second up changes nothing
    assert project.changes() == {}
    assert "unchanged" in project.up().stdout and "created" not in project.up().stdout

    # 3. trackDdl off: only the event triggers go; DDL is no longer tracked; on again restores it
    project.config("script-tracking:trackDdl", "false")
    assert project.changes() == {"auto_ddl_tracker": "delete", "auto_ddl_tracker_drop": "delete"}
    project.up()
    before = executions(project)
    project.sql("CREATE TABLE untracked_t (id int)")
    assert executions(project) == before
    project.config("script-tracking:trackDdl", "true")
    assert project.changes() == {"auto_ddl_tracker": "create", "auto_ddl_tracker_drop": "create"}
    project.up()
    project.sql("CREATE TABLE tracked_t (id int)")
    assert executions(project) == before + 1

    # 4a. a formatting-only edit of sql/ previews zero changes
    source = project.dir / "sql" / "20_tracking.sql"
    original = source.read_text()
    reformatted = original.replace(
        "    SELECT script_tracking.complete_operation(p_execution_hk, p_success, p_error_message)",
        "  -- same call, other layout\n  select   script_tracking.complete_operation(p_execution_hk,p_success,\n"
        "            p_error_message)")
    assert reformatted != original
    source.write_text(reformatted)
    assert project.changes() == {}

    # 4b. a function body edited: the preview names that one function and shows the
    # SQL change; after up every tracked row is still there
    assert WRAPPER_BODY in reformatted
    source.write_text(reformatted.replace(
        WRAPPER_BODY, WRAPPER_BODY.replace("(p_script_name,", "(pg_catalog.btrim(p_script_name),")))
    assert project.changes() == {WRAPPER: "update"}
    diff = project.run("preview", "--diff").stdout
    assert WRAPPER in diff and "pg_catalog.btrim(p_script_name)" in diff
    rows = history(project)
    project.up()
    # every row is still there (the update's own DDL is tracked too, as new rows)
    assert rows < history(project)
    assert "btrim" in project.sql("SELECT prosrc FROM pg_proc WHERE oid = %s::regprocedure", (WRAPPER,))[0][0]
    assert project.sql("SELECT encode(public.track_operation('  padded  ', 'ADHOC'), 'hex')")
    assert tracked(project, "padded") == 1

    # 5. the event trigger dropped by hand: refresh shows it; up restores it
    project.sql("DROP EVENT TRIGGER auto_ddl_tracker")
    refresh = project.run("refresh", "--yes", "--diff").stdout
    assert "1 updated" in refresh
    # the finding itself, not the trigger's SQL shown removed and added unchanged
    assert '+ auto_ddl_tracker: "missing: dropped outside Pulumi"' in refresh and "statements" not in refresh
    assert project.changes() == {"auto_ddl_tracker": "create"}
    project.up()
    assert project.sql("SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'auto_ddl_tracker'") == [("O",)]
    assert "updated" not in project.run("refresh", "--yes").stdout  # the finding is gone with the drift

    # ... and disabled by hand: refresh sees the drift, up re-enables it
    project.sql("ALTER EVENT TRIGGER auto_ddl_tracker_drop DISABLE")
    refresh = project.run("refresh", "--yes", "--diff").stdout
    assert re.search(r'\+ auto_ddl_tracker_drop: \{\s+\+ enabled *: "D"', refresh), refresh
    assert project.changes() == {"auto_ddl_tracker_drop": "update"}
    assert "enabled: disabled -> enabled" in project.run("preview", "--diff").stdout
    project.up("--refresh")
    assert project.sql("SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'auto_ddl_tracker_drop'") == [("O",)]

    # 6. the writer may track but not write the tables; the reader may read history only
    with psycopg.connect(project.dsn, autocommit=True) as conn:
        conn.execute(f'SET ROLE "{project.writer}"')
        hk = conn.execute("SELECT track_operation('as writer', 'ADHOC')").fetchone()[0]
        conn.execute("SELECT complete_operation(%s, true, NULL)", (hk,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO script_tracking.script_execution_h VALUES ('x', 'x', 1, 'x', 'ADHOC', now(), 'x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM script_tracking.get_execution_history()")
        conn.execute("RESET ROLE")
        conn.execute(f'SET ROLE "{project.reader}"')
        names = [r[0] for r in conn.execute(
            "SELECT script_name FROM script_tracking.get_execution_history(p_script_name => 'as writer')")]
        assert names == ["as writer"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT track_operation('as reader', 'ADHOC')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM script_tracking.script_execution_s")
        assert conn.execute("SELECT count(*) FROM script_tracking.ddl_history"
                            " WHERE object_identity = 'public.tracked_t'").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM script_tracking.ddl_journal")

    # the state holds no plaintext password
    export = project.run("stack", "export").stdout
    assert project.env["PULUMI_CONFIG_PASSPHRASE"] not in export
    password = project.dsn.split("password=")[1].split()[0]
    assert password not in export

    # 7. destroy leaves nothing of ours; up again works
    project.run("destroy", "--yes")
    assert ours_in_catalog(project) == NONE_OF_OURS
    project.up()
    run_seed_validation(project)
