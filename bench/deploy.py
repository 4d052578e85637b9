"""Figure 4: deployment wall time through the real Pulumi CLI (up from an empty database,
no-op up, preview, destroy) against the same commands on an empty Pulumi Python program
(same CLI, language host and virtualenv) and against psql -f sql/install.sql / uninstall.sql."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from .common import REPO, SQL_DIR, Bench, Row, median

BIN = REPO / ".tools" / "bin"
PASSPHRASE = "bench-passphrase"
STEPS = ("up", "noop_up", "preview", "destroy")


class Program:
    def __init__(self, b: Bench, name: str, real: bool, db: str | None = None):
        """`real`: this project's program (one database `db`, or none: a caller
        configures a fleet); else an empty Python program."""
        self.b, self.name, self.real, self.db = b, name, real, db
        self.dir = b.tmp / f"prog_{name}"
        self.dir.mkdir()
        venv = REPO / ".venv"
        if real:
            shutil.copy(REPO / "__main__.py", self.dir)
            shutil.copytree(SQL_DIR, self.dir / "sql")
            (self.dir / "components").symlink_to(REPO / "components")
            (self.dir / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text().replace(
                "virtualenv: .venv", f"virtualenv: {venv}"))
        else:
            (self.dir / "__main__.py").write_text("import pulumi\n")
            (self.dir / "Pulumi.yaml").write_text(
                f"name: bench-empty\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
                f"    virtualenv: {venv}\n")
        state = b.tmp / f"state_{name}"
        state.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "PG"))}
        env.update({
            "PATH": f"{BIN}:{venv / 'bin'}:{os.environ['PATH']}",
            "PULUMI_HOME": str(b.tmp / f"pulumi-home-{name}"),
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
            "NO_COLOR": "1",
        })
        self.env = env
        self.stack = "bench"
        self.run("stack", "init", self.stack, stack=False)
        if real and db is not None:
            c = b.cluster
            self.config("postgresql:host", "127.0.0.1")
            self.config("postgresql:port", str(c.port))
            self.config("postgresql:database", db)
            self.config("postgresql:username", "postgres")
            self.config("postgresql:password", c.password, secret=True)

    def run(self, *args: str, stack: bool = True) -> tuple[float, subprocess.CompletedProcess]:
        cmd = [str(BIN / "pulumi"), *args] + (["--stack", self.stack] if stack else [])
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=900)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return dt, r

    def config(self, key: str, value: str, secret: bool = False) -> None:
        self.run("config", "set", *(["--secret"] if secret else []), key, value)

    def step(self, name: str) -> float:
        args = {"up": ("up", "--yes", "--skip-preview"),
                "noop_up": ("up", "--yes", "--skip-preview"),
                "preview": ("preview",),
                "destroy": ("destroy", "--yes", "--skip-preview")}[name]
        dt, r = self.run(*args)
        if name == "noop_up" and self.real and "created" in r.stdout.split("Resources:")[-1]:
            raise AssertionError(f"no-op up changed something:\n{r.stdout[-2000:]}")
        return dt

    def resources(self) -> int:
        _, r = self.run("stack", "export")
        return len(json.loads(r.stdout).get("deployment", {}).get("resources", []) or [])


def program_only_time(b: Bench) -> float:
    """Import time of the program's Python side (pulumi SDK + script_tracking + pglast), no engine."""
    code = ("import time, sys; t=time.perf_counter(); sys.path.insert(0, %r); import pulumi, script_tracking, "
            "script_tracking.sqlsource, script_tracking.provider; print(time.perf_counter()-t)") % str(REPO)
    r = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-c", code], capture_output=True, text=True)
    return float(r.stdout.strip() or "nan")


def run(b: Bench, quick: bool = False, reps: int | None = None, log=print) -> list[Row]:
    reps = reps or (1 if quick else 3)
    if not (BIN / "pulumi").exists():
        raise RuntimeError("Pulumi toolchain missing in .tools/bin: run `make toolchain`")
    db = b.create_db("deploy")
    psql_db = b.create_db("deploy_psql")
    real = Program(b, "real", True, db)
    empty = Program(b, "empty", False)
    times: dict[str, dict[str, list[float]]] = {p: {s: [] for s in STEPS} for p in ("real", "empty")}
    psql_times: dict[str, list[float]] = {"install": [], "uninstall": []}
    nres = 0
    for r in range(reps):
        progs = (real, empty) if r % 2 == 0 else (empty, real)
        for step in STEPS:  # interleaved step by step
            for p in progs:
                dt = p.step(step)
                times[p.name][step].append(dt)
                log(f"  deploy rep {r} {p.name:5} {step:8}: {dt:6.2f} s")
            if step == "noop_up":
                nres = real.resources()
        for what in ("install", "uninstall"):
            dt = b.timed_psql(psql_db, SQL_DIR / f"{what}.sql")
            psql_times[what].append(dt)
            log(f"  deploy rep {r} psql  {what:9}: {dt:6.2f} s")
    with b.connect(db) as c:
        left = c.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN ('util', 'script_tracking')").fetchone()[0]
    if left:
        raise AssertionError("pulumi destroy left the schemas behind")
    med = {p: {s: median(v) for s, v in d.items()} for p, d in times.items()}
    psql_med = {k: median(v) for k, v in psql_times.items()}
    imp = program_only_time(b)
    rows = []
    labels = {"up": "pulumi up from an empty database", "noop_up": "pulumi up, no changes",
              "preview": "pulumi preview, no changes", "destroy": "pulumi destroy"}
    for s in STEPS:
        psql_ref = psql_med["install"] if s == "up" else psql_med["uninstall"] if s == "destroy" else None
        rows.append(Row(
            figure=labels[s], value=med["real"][s], baseline=med["empty"][s], unit="s",
            target="report (vs empty program; vs psql)", met=None,
            extra={"real_s": times["real"][s], "empty_s": times["empty"][s], "psql_s": psql_ref,
                   "vs_psql": (med["real"][s] / psql_ref) if psql_ref else None,
                   "resources": nres, "per_resource_ms": (med["real"][s] - med["empty"][s]) / max(nres, 1) * 1000},
        ))
    rows.append(Row(figure="psql -f install.sql + uninstall.sql", value=psql_med["install"] + psql_med["uninstall"],
                    baseline=None, unit="s", target="report", met=None,
                    extra={"install_s": psql_times["install"], "uninstall_s": psql_times["uninstall"],
                           "program_import_s": imp}))
    return rows
