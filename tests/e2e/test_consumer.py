"""A consumer's own Pulumi project, outside this repository: the built wheel
installed into a virtualenv of its own, examples/two-databases as its program,
the connection passed as Outputs. up installs both databases, a preview shows
no change, destroy leaves nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid

import psycopg
from psycopg import sql

from tests.conftest import REPO
from tests.e2e.conftest import Project, program_env, require_toolchain


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r


def installed(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn, autocommit=True) as c:
        return c.execute("SELECT (SELECT count(*) FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')),"
                         " (SELECT count(*) FROM pg_event_trigger)").fetchone()


def test_a_consumer_project_installs_the_wheel_and_tracks_two_databases(pg, new_db, tmp_path):
    require_toolchain()
    # the wheel, built the standard way, and a virtualenv that has only it and its dependencies
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(REPO))
    wheel = next((tmp_path / "dist").glob("script_tracking-*.whl"))
    venv = tmp_path / "consumer-venv"
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "pip"), "install", "--quiet", str(wheel))
    where = run(str(venv / "bin" / "python"), "-c",
                "import script_tracking, script_tracking.sqlsource as s; print(script_tracking.__file__); "
                "print(sorted(p.name for p in s.SQL_DIR.glob('*.sql')))", cwd=tmp_path).stdout
    assert str(venv) in where and "20_tracking.sql" in where and str(REPO) not in where.splitlines()[0]

    work = tmp_path / "consumer"
    shutil.copytree(REPO / "examples" / "two-databases", work)
    (work / "Pulumi.yaml").write_text((work / "Pulumi.yaml").read_text().replace(
        "virtualenv: venv", f"virtualenv: {venv}"))
    env = program_env(tmp_path)
    suffix = uuid.uuid4().hex[:8]
    dbs = [new_db(), new_db()]
    p = Project(dir=work, env=env, stack=f"consumer-{suffix}", dsn=pg.dsn(dbs[0]),
                writer=f"st_cw_{suffix}", reader=f"st_cr_{suffix}", owner=f"st_co_{suffix}")
    run("pulumi", "stack", "init", p.stack, cwd=work, env=env)
    p.run("config", "set", "port", str(pg.port))
    p.run("config", "set", "--secret", "password", pg.password)
    p.run("config", "set", "ownerRole", p.owner)
    p.run("config", "set", "writerRole", p.writer)
    p.run("config", "set", "readerRole", p.reader)
    for i, db in enumerate(dbs):
        p.run("config", "set", "--path", f"databases[{i}]", db)
    try:
        # a bad value that only the program's Outputs carry: one line naming the installation
        p.run("config", "set", "port", "70000")
        r = p.run("preview", check=False)
        assert r.returncode != 0 and "Traceback" not in r.stdout + r.stderr
        assert re.search(r"has a problem: ScriptTracking 'tracking-t_\w+': port: 70000 is outside 1\.\.65535\n",
                         r.stdout)
        assert "property" not in r.stdout  # no input value printed before the reason
        p.run("config", "set", "port", str(pg.port))
        p.up()
        for db in dbs:
            assert installed(pg.dsn(db)) == (2, 2), db
        assert p.run("stack", "output", f"{dbs[1]}.writerRole").stdout.strip() == p.writer
        p.run("preview", "--expect-no-changes")
        p.run("destroy", "--yes")
        for db in dbs:
            assert installed(pg.dsn(db)) == (0, 0), db
        assert not p.sql("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s, %s)", (p.owner, p.writer, p.reader))
    finally:
        p.run("destroy", "--yes", check=False)
        for role in (p.owner, p.writer, p.reader):
            for db in dbs:
                with psycopg.connect(pg.dsn(db), autocommit=True) as c:
                    if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                        c.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role)))
                        c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            with psycopg.connect(pg.dsn(), autocommit=True) as c:
                c.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
