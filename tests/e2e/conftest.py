"""End-to-end fixtures: the real Pulumi CLI and engine (built into .tools/bin by
`make toolchain`) against the test session's real PostgreSQL.

Each test gets a copy of the program (Pulumi.yaml, __main__.py, sql/) in a temp
directory, its own file backend and stack, its own database and its own role
names, so tests cannot see each other's state. A missing toolchain fails the
test: it never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import REPO

BIN = REPO / ".tools" / "bin"
# what a detailed diff's kind means for the object it names
# what the plan (shown at preview) does to an object, as create/delete/update
PLAN_OPS = {"create": "create", "drop": "delete", "keep": "delete", "alter": "update", "replace": "update",
            "recreate": "update"}
PASSPHRASE = "e2e-test-passphrase"


def require_toolchain() -> None:
    missing = [b for b in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec",
                           "pulumi-resource-pulumi-python", "pulumi-language-yaml") if not (BIN / b).exists()]
    if missing:
        pytest.fail(f"Pulumi toolchain missing in .tools/bin ({', '.join(missing)}): run `make toolchain`")


@dataclass
class Project:
    """A throwaway copy of the program with its own stack, driven through the CLI."""

    dir: Path
    env: dict[str, str]
    stack: str
    dsn: str
    writer: str
    reader: str
    owner: str
    log: list[str] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
        r = subprocess.run(["pulumi", *args, "--stack", self.stack], cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        self.log.append(f"$ pulumi {' '.join(args)}\n{r.stdout}\n{r.stderr}")
        if check and r.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def config(self, key: str, value: str, secret: bool = False) -> None:
        self.run("config", "set", *(["--secret"] if secret else []), key, value)

    def up(self, *extra: str) -> subprocess.CompletedProcess:
        return self.run("up", "--yes", "--skip-preview", *extra)

    def preview_steps(self, *extra: str) -> list[dict]:
        """The steps of `pulumi preview --json`: op and urn of every resource."""
        r = self.run("preview", "--json", *extra)
        return json.loads(r.stdout).get("steps", [])

    def changes(self, *extra: str) -> dict[str, str]:
        """What the preview would change: database object -> create/update/delete for the
        objects of an updated installation (its plan), resource name -> op for
        every other step that changes something."""
        out = {}
        for s in self.preview_steps(*extra):
            if s["op"] in ("same", "refresh"):
                continue
            plan = ((s.get("newState") or {}).get("inputs") or {}).get("plan") or {}
            shown = [json.loads(path[len("plan["):-1]) for path in (s.get("detailedDiff") or {})
                     if path.startswith("plan[")]
            if s["op"] == "update" and shown:
                out.update({key: PLAN_OPS[plan[key]["action"]] for key in shown})
            else:
                out[s["urn"].split("::")[-1]] = s["op"]
        return out

    def sql(self, query: str, params=None) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


# what ours_in_catalog says of a database the system was never in, or was destroyed from
NONE_OF_OURS = {"schemas": 0, "event_triggers": 0, "wrappers": 0, "roles": 0, "functions": 0}


def ours_in_catalog(project: Project) -> dict[str, int]:
    """How many objects of ours the database holds, by kind."""
    row = project.sql("""
        SELECT (SELECT count(*) FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')),
               (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'auto_ddl_tracker%%'),
               (SELECT count(*) FROM pg_proc WHERE proname IN ('track_operation', 'complete_operation')
                    AND pronamespace = 'public'::regnamespace),
               (SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s, %s)),
               (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname IN ('util', 'script_tracking'))
    """, (project.owner, project.writer, project.reader))[0]
    return dict(zip(("schemas", "event_triggers", "wrappers", "roles", "functions"), row))


def program_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a pulumi command: our toolchain, a file backend of its own."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "PG"))}
    env.update({
        "PATH": f"{BIN}:{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        "NO_COLOR": "1",
    })
    return env


def install_program(work: Path, source: Path = REPO) -> None:
    """The project's program (Pulumi.yaml, __main__.py, sql/, components/) from `source` into `work`."""
    work.mkdir(exist_ok=True)
    shutil.copy(source / "__main__.py", work)
    if not (work / "sql").exists():
        shutil.copytree(source / "sql", work / "sql")
    # the program's directory holds components/, as the repository does
    if (work / "components").is_symlink():
        (work / "components").unlink()
    elif (work / "components").exists():
        shutil.rmtree(work / "components")
    (work / "components").symlink_to(source / "components")
    (work / "Pulumi.yaml").write_text((source / "Pulumi.yaml").read_text().replace(
        "virtualenv: .venv", f"virtualenv: {REPO / '.venv'}"))


def new_project(pg, db: str, tmp_path: Path, work: Path) -> Project:
    """A stack of the program in `work` on database `db`, with its own role names."""
    require_toolchain()
    env = program_env(tmp_path)
    suffix = uuid.uuid4().hex[:8]
    p = Project(dir=work, env=env, stack=f"e2e-{suffix}", dsn=pg.dsn(db),
                writer=f"st_writer_{suffix}", reader=f"st_reader_{suffix}", owner=f"st_owner_{suffix}")
    subprocess.run(["pulumi", "stack", "init", p.stack], cwd=work, env=env, check=True, capture_output=True)
    p.config("postgresql:host", "127.0.0.1")
    p.config("postgresql:port", str(pg.port))
    p.config("postgresql:database", db)
    p.config("postgresql:username", "postgres")
    p.config("postgresql:password", pg.password, secret=True)
    p.config("script-tracking:ownerRole", p.owner)
    p.config("script-tracking:writerRole", p.writer)
    p.config("script-tracking:readerRole", p.reader)
    return p


def drop_roles(p: Project) -> None:
    """Leave nothing behind in the shared cluster (roles are cluster-wide)."""
    for role in (p.owner, p.writer, p.reader):
        if p.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)):
            p.sql(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role)))
            p.sql(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            p.sql(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def project(pg, db, tmp_path) -> Project:
    work = tmp_path / "program"
    install_program(work)
    p = new_project(pg, db, tmp_path, work)
    yield p
    p.run("destroy", "--yes", check=False)
    drop_roles(p)
