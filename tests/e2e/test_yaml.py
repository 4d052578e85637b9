"""The component from a Pulumi YAML program (examples/yaml), served by the plugin in
plugin/ through the real CLI, the YAML language host and our Python language host's
RunPlugin, against a real PostgreSQL: the same objects as from Python."""

from __future__ import annotations

import shutil
import subprocess
import uuid

from tests.conftest import REPO
from tests.e2e.conftest import NONE_OF_OURS, Project, drop_roles, ours_in_catalog, program_env, require_toolchain
from tests.e2e.test_lifecycle import run_seed_validation


def yaml_project(pg, db: str, tmp_path) -> Project:
    require_toolchain()
    work = tmp_path / "yaml"
    shutil.copytree(REPO / "examples" / "yaml", work)
    # the example names the plugin relative to itself; the copy names the repository's
    (work / "Pulumi.yaml").write_text((work / "Pulumi.yaml").read_text().replace(
        "script-tracking: ../../plugin", f"script-tracking: {REPO / 'plugin'}"))
    env = program_env(tmp_path)
    suffix = uuid.uuid4().hex[:8]
    p = Project(dir=work, env=env, stack=f"yaml-{suffix}", dsn=pg.dsn(db), writer=f"st_yw_{suffix}",
                reader=f"st_yr_{suffix}", owner=f"st_yo_{suffix}")
    subprocess.run(["pulumi", "stack", "init", p.stack], cwd=work, env=env, check=True, capture_output=True)
    for key, value in (("port", str(pg.port)), ("database", db), ("ownerRole", p.owner),
                       ("writerRole", p.writer), ("readerRole", p.reader)):
        p.config(key, value)
    p.config("password", pg.password, secret=True)
    return p


def test_a_yaml_program_installs_changes_and_destroys_the_system(pg, db, tmp_path):
    project = yaml_project(pg, db, tmp_path)
    try:
        out = project.up().stdout
        assert "script-tracking:index:ScriptTracking" in out and "sql:Objects" in out, out
        run_seed_validation(project)
        assert project.sql("SELECT DISTINCT proowner::regrole::text FROM pg_proc"
                           " WHERE pronamespace = 'script_tracking'::regnamespace") == [(project.owner,)]
        assert project.run("stack", "output", "writerRole").stdout.strip() == project.writer
        project.run("preview", "--expect-no-changes")

        project.config("trackDdl", "false")
        assert project.changes() == {"auto_ddl_tracker": "delete", "auto_ddl_tracker_drop": "delete"}
        project.up()
        assert ours_in_catalog(project)["event_triggers"] == 0

        project.run("destroy", "--yes")
        assert ours_in_catalog(project) == NONE_OF_OURS
    finally:
        project.run("destroy", "--yes", check=False)
        drop_roles(project)


def test_a_bad_input_is_one_line_naming_it(pg, db, tmp_path):
    project = yaml_project(pg, db, tmp_path)
    try:
        project.config("port", "0")
        r = project.run("preview", check=False)
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "Traceback" not in out and 'File "' not in out, out
        assert "connection.port" in out and "0 is outside 1..65535" in out, out
    finally:
        drop_roles(project)
