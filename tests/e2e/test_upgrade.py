"""A stack made by release 0.1 (one resource per object, provider pickled as
components.provider) moves to this release with no database change: after
`python -m script_tracking.upgrade`, preview shows no change, up re-creates
nothing (every object keeps its OID, every row stays), refresh finds no drift,
and destroy removes everything.

Release 0.1 is the commit below, taken from this repository's history. So is release
0.2, whose stacks this release takes as they are (same resources), reading their
recorded state in its current form (catalog keys it no longer reads are no drift)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile

import pytest

from script_tracking.desired import Settings, desired_objects
from tests.conftest import REPO
from tests.e2e.conftest import NONE_OF_OURS, drop_roles, install_program, new_project, ours_in_catalog

RELEASE_0_1 = "55b222fb0202e102463d86d6c70aefc9e14fd087"
RELEASE_0_2 = "cd1578b"


def checkout(commit: str, into) -> None:
    r = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit,
                        "__main__.py", "Pulumi.yaml", "components", "sql"], capture_output=True)
    if r.returncode != 0:
        pytest.fail(f"release 0.1 ({commit}) is not in this clone's history: {r.stderr.decode().strip()}")
    tarfile.open(fileobj=io.BytesIO(r.stdout)).extractall(into, filter="data")


def release_project(commit: str, pg, db: str, tmp_path):
    """A stack of an earlier release's program, in tmp_path/program (nothing applied yet).
    The owner role, which those releases did not have, is off: any change would be the
    upgrade's own."""
    work = tmp_path / "program"
    work.mkdir()
    checkout(commit, work)
    (work / "Pulumi.yaml").write_text((work / "Pulumi.yaml").read_text().replace(
        "virtualenv: .venv", f"virtualenv: {REPO / '.venv'}"))
    project = new_project(pg, db, tmp_path, work)
    project.config("script-tracking:ownerRole", "")
    return project


def release_0_1_stack(pg, db: str, tmp_path):
    """A stack made by release 0.1's program: up done."""
    project = release_project(RELEASE_0_1, pg, db, tmp_path)
    project.up()
    return project


def upgrade(project) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "script_tracking.upgrade", "--stack", project.stack],
                          cwd=project.dir, env=project.env, capture_output=True, text=True)


def identities(project) -> dict:
    """Every object of ours with its OID: a re-created object gets a new one."""
    return dict(project.sql("""
        SELECT 'proc ' || p.oid::regprocedure::text, p.oid::bigint FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN ('util', 'script_tracking') OR p.proname IN ('track_operation', 'complete_operation')
        UNION ALL SELECT 'rel ' || c.oid::regclass::text, c.oid::bigint FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('util', 'script_tracking')
        UNION ALL SELECT 'schema ' || nspname, oid::bigint FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')
        UNION ALL SELECT 'trigger ' || evtname, oid::bigint FROM pg_event_trigger
        UNION ALL SELECT 'role ' || rolname, oid::bigint FROM pg_roles WHERE rolname IN (%s, %s)
    """, (project.writer, project.reader)))


def test_a_release_0_1_stack_upgrades_with_no_database_change(pg, db, tmp_path):
    project = release_0_1_stack(pg, db, tmp_path)
    try:
        types = project.run("stack", "--show-urns").stdout
        assert "pulumi-python:dynamic/sql:Function" in types  # one resource per object, as 0.1 made it
        project.sql("SELECT track_operation('before the upgrade', 'MIGRATION')")
        before, rows = identities(project), project.sql("SELECT script_execution_hk, version_number, status FROM script_tracking.script_execution_s")
        assert len(before) > 30

        # this release's program (release 0.1's sql/ kept: only the code changes)
        install_program(project.dir)
        r = upgrade(project)
        assert r.returncode == 0, r.stderr
        assert "upgraded from release 0.1" in r.stdout and "no database change" in r.stdout
        again = upgrade(project)  # a second run finds nothing to do
        assert again.returncode == 0 and again.stdout == ""
        # the state now says what this release's program would: same objects, same dependencies
        state = json.loads(project.run("stack", "export").stdout)["deployment"]["resources"]
        recorded = next(r for r in state if r["type"].endswith("sql:Objects"))["outputs"]["objects"]
        desired = {o.key: list(o.depends_on) for o in desired_objects(
            Settings(owner_role="", writer_role=project.writer, reader_role=project.reader,
                     sql_dir=project.dir / "sql")) if o.kind != "role"}
        assert {k: v["dependsOn"] for k, v in recorded.items()} == desired

        project.run("preview", "--expect-no-changes")
        assert project.changes() == {}
        out = project.up().stdout
        assert "created" not in out and "deleted" not in out and "updated" not in out
        project.run("refresh", "--yes")
        assert project.changes() == {}
        assert identities(project) == before, "an object was re-created"
        assert set(rows) <= set(project.sql("SELECT script_execution_hk, version_number, status FROM script_tracking.script_execution_s"))
        urns = project.run("stack", "--show-urns").stdout
        assert "sql:Objects" in urns and "sql:Function" not in urns

        # then the owner role, turned on: the objects change hands, none is re-created
        project.config("script-tracking:ownerRole", project.owner)
        project.up()
        assert identities(project) == before, "an object was re-created"
        assert project.sql("SELECT DISTINCT proowner::regrole::text FROM pg_proc"
                           " WHERE pronamespace = 'script_tracking'::regnamespace") == [(project.owner,)]
        project.run("preview", "--expect-no-changes", "--refresh")

        project.run("destroy", "--yes")
        assert ours_in_catalog(project) == NONE_OF_OURS
    finally:
        project.run("destroy", "--yes", check=False)
        drop_roles(project)


def test_the_new_program_on_a_0_1_stack_refuses_until_upgraded(pg, db, tmp_path):
    """Forgetting the upgrade loses nothing: the old resources' operations stop with
    the instruction, one line, and the database keeps every object and row; the
    upgrade still mends the stack after a plain `up` (which made this release's
    resources next to the old ones before it stopped)."""
    project = release_0_1_stack(pg, db, tmp_path)
    try:
        before = identities(project)
        install_program(project.dir)
        r = project.run("destroy", "--yes", check=False)
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "Traceback" not in out
        assert "made by script-tracking 0.1: upgrade its state first with python -m script_tracking.upgrade" in out
        assert identities(project) == before
        project.sql("SELECT track_operation('kept', 'MIGRATION')")
        r = project.run("up", "--yes", "--skip-preview", check=False)
        assert r.returncode != 0 and "Traceback" not in r.stdout + r.stderr
        assert "made by script-tracking 0.1" in r.stdout + r.stderr
        assert upgrade(project).returncode == 0
        project.run("preview", "--expect-no-changes")
        urns = project.run("stack", "--show-urns").stdout
        assert urns.count("sql:Objects::") == 1 and "sql:Function" not in urns
        assert project.sql("SELECT count(*) FROM script_tracking.script_execution_h WHERE script_name = 'kept'") == [(1,)]
        project.run("destroy", "--yes")
        assert ours_in_catalog(project)["schemas"] == 0
    finally:
        upgrade(project)
        project.run("destroy", "--yes", check=False)
        drop_roles(project)


def test_a_release_0_2_stack_refreshes_and_previews_no_change(pg, db, tmp_path):
    """The previous release's program (its own package, through PYTHONPATH) makes the
    stack; this release's program, on the same sql/ and with the owner role it did not
    have turned off, finds no drift and no change, and re-creates nothing."""
    project = release_project(RELEASE_0_2, pg, db, tmp_path)
    project.env["PYTHONPATH"] = str(project.dir / "components")  # release 0.2's script_tracking, not ours
    try:
        project.up()
        project.sql("SELECT track_operation('made by 0.2', 'MIGRATION')")
        before = identities(project)
        del project.env["PYTHONPATH"]
        install_program(project.dir)  # this release's program and package; 0.2's sql/ stays
        project.run("refresh", "--yes", "--run-program")
        assert project.changes() == {}
        project.run("preview", "--expect-no-changes", "--refresh")
        assert identities(project) == before
        project.run("destroy", "--yes")
        assert ours_in_catalog(project) == NONE_OF_OURS
    finally:
        project.env.pop("PYTHONPATH", None)
        project.run("destroy", "--yes", check=False)
        drop_roles(project)
