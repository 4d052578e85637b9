"""Fixtures of the provider suite: a fresh database per test (tests/conftest.py),
per-test role names (roles are cluster-wide, so every test gets its own), and a
stack whose objects come from script_tracking.desired exactly as the program builds
them. One full install is shared by the read-only tests of a module."""

from __future__ import annotations

import uuid
from typing import Iterator

import psycopg
import pytest
from psycopg import sql

from script_tracking.desired import Settings
from tests.conftest import _create_db, _drop_db

from .support import Stack, connection


def _drop_roles(pg, db: str | None, roles: tuple[str, ...]) -> None:
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        existing = [r for (r,) in admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(roles),))]
    if not existing:
        return
    idents = sql.SQL(", ").join(sql.Identifier(r) for r in existing)
    if db is not None:
        try:
            with psycopg.connect(pg.dsn(db), autocommit=True) as conn:
                # an owner role's objects stay (the database goes with them), its privileges go
                conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(idents))
                conn.execute(sql.SQL("DROP OWNED BY {}").format(idents))
        except psycopg.OperationalError:
            pass  # the database is gone already, and its privileges with it
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(idents))


def roles_of(s: Settings) -> tuple[str, ...]:
    return tuple(r for r in (s.owner_role, s.writer_role, s.reader_role) if r)


def unique_settings(**kw) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(**{"owner_role": f"st_o_{tag}", "writer_role": f"st_w_{tag}", "reader_role": f"st_r_{tag}",
                       **kw})


@pytest.fixture
def settings(pg, db) -> Iterator[Settings]:
    """Settings with role names of this test only; the roles go away afterwards."""
    s = unique_settings()
    yield s
    _drop_roles(pg, db, roles_of(s))


@pytest.fixture
def role_name(pg) -> Iterator[str]:
    """A role name of this test only; the role goes away afterwards."""
    name = f"st_shared_{uuid.uuid4().hex[:8]}"
    yield name
    _drop_roles(pg, None, (name,))


@pytest.fixture
def conn(pg, db) -> dict:
    return connection(pg, db)


@pytest.fixture
def stack(conn, settings) -> Stack:
    """Nothing applied yet: call stack.install(...) for the objects a test needs."""
    return Stack.for_settings(conn, settings)


@pytest.fixture(scope="module")
def installed(pg) -> Iterator[Stack]:
    """Every object of the default settings (trackDdl on) created through the
    provider in desired order into a database of this module. Read-only: tests
    that change the database use `stack` instead."""
    db = _create_db(pg)
    s = unique_settings()
    try:
        st = Stack.for_settings(connection(pg, db), s)
        st.install()
        yield st
    finally:
        _drop_db(pg, db)
        _drop_roles(pg, None, roles_of(s))
