"""Shared pieces: the throwaway cluster, psql/pgbench runners, result rows, stats."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
SQL_DIR = REPO / "sql"
RESULTS = Path(__file__).resolve().parent / "results"

import sys  # noqa: E402

sys.path.insert(0, str(REPO))
from scripts.localpg import Cluster, bin_dir, free_port  # noqa: E402


@dataclass
class Row:
    """One line of the report: a figure, its baseline and whether the target is met."""

    figure: str
    value: float
    baseline: float | None
    unit: str
    target: str
    met: bool | None
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline:
            self.ratio = self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class Bench:
    """A fresh cluster for one benchmark run, with helpers."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="st-bench-"))
        self.tmp.chmod(0o755)
        self.cluster = Cluster(self.tmp / "cluster", port=free_port(),
                               password="st-bench-" + uuid.uuid4().hex[:12])

    def __enter__(self) -> "Bench":
        self.cluster.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cluster.destroy()
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- connections -------------------------------------------------------
    def dsn(self, db: str = "postgres") -> str:
        return self.cluster.dsn(db)

    def connect(self, db: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.dsn(db), autocommit=True)

    def create_db(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with self.connect() as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def env(self) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        e.update(self.cluster.env())
        return e

    def psql(self, db: str, *, file: Path | None = None, command: str | None = None
             ) -> subprocess.CompletedProcess:
        return self.cluster.psql(db, file=file, command=command)

    def timed_psql(self, db: str, file: Path) -> float:
        t0 = time.perf_counter()
        self.psql(db, file=file)
        return time.perf_counter() - t0

    def install(self, db: str) -> None:
        self.psql(db, file=SQL_DIR / "install.sql")

    def server_version(self) -> str:
        with self.connect() as c:
            return c.execute("SELECT version()").fetchone()[0]


def machine_info(bench: Bench | None = None) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    info = {"nproc": os.cpu_count(), "cpu_model": cpu, "mem_gib": mem_gib,
            "python": sys.version.split()[0], "pg_bin_dir": str(bin_dir())}
    try:
        info["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        pass
    if bench is not None:
        info["postgresql"] = bench.server_version()
    return info


def interleave(modes: dict[str, Any], reps: int) -> Iterator[tuple[int, str, Any]]:
    """rep, name, fn: alternating order per rep (ABBA...) to cancel drift."""
    names = list(modes)
    for r in range(reps):
        order = names if r % 2 == 0 else list(reversed(names))
        for n in order:
            yield r, n, modes[n]
