"""Roles belong to the server: installations in several databases of one server
share the writer and reader roles. The first creates a role (and marks it as
ours), the others share it, the last one to go drops it, one that existed
before is never dropped, and role changes from different databases are
serialized server-wide (a lock on pg_authid), so two databases creating the
same role at once both succeed."""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import sql

from script_tracking.db import ProviderError
from script_tracking.provider import ObjectSetProvider

from .support import connection


def role_set(pg, db: str, role: str) -> dict:
    return {"objects": {role: {"kind": "role", "identity": role, "dependsOn": [], "statements": [
        f'CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT']}},
            "connection": connection(pg, db), "preflight": False}


def exists(pg, role: str) -> bool:
    with psycopg.connect(pg.dsn(), autocommit=True) as c:
        return c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def grant_usage(pg, db: str, role: str, grant: bool = True) -> None:
    """What an installation's grants leave in its database: privileges of the role
    there (revoked again by its sql:Objects delete, which runs before its roles')."""
    with psycopg.connect(pg.dsn(db), autocommit=True) as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS app")
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}" if grant else "REVOKE USAGE ON SCHEMA app FROM {}")
                  .format(sql.Identifier(role)))


def test_the_last_database_to_go_drops_the_shared_role(pg, new_db, role_name):
    p = ObjectSetProvider()
    dbs = [new_db() for _ in range(3)]
    outs = []
    for db in dbs:
        outs.append(p.create(role_set(pg, db, role_name)).outs)
        grant_usage(pg, db, role_name)
    assert [o["adopted"] for o in outs] == [[], [], []], "shared, not adopted: it is ours"
    for i, remaining in ((0, "two databases"), (2, "one database")):
        grant_usage(pg, dbs[i], role_name, grant=False)
        p.delete("x", outs[i])
        assert exists(pg, role_name), f"still used by {remaining}"
    with psycopg.connect(pg.dsn(dbs[1]), autocommit=True) as c:  # privileges elsewhere are left alone
        assert c.execute("SELECT has_schema_privilege(%s, 'app', 'USAGE')", (role_name,)).fetchone()[0]
    grant_usage(pg, dbs[1], role_name, grant=False)
    p.delete("x", outs[1])
    assert not exists(pg, role_name)


def test_a_role_that_existed_before_is_never_dropped(pg, new_db, role_name):
    with psycopg.connect(pg.dsn(), autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role_name)))
    p = ObjectSetProvider()
    a, b = new_db(), new_db()
    outs = [p.create(role_set(pg, db, role_name)).outs for db in (a, b)]
    assert [o["adopted"] for o in outs] == [[role_name], [role_name]]
    for o in outs:
        p.delete("x", o)
    assert exists(pg, role_name)


def test_two_databases_create_the_same_role_at_once(pg, new_db, role_name):
    p = ObjectSetProvider()
    dbs = [new_db() for _ in range(4)]
    results, errors = {}, []
    start = threading.Barrier(len(dbs))

    def create(db: str) -> None:
        start.wait()
        try:
            results[db] = p.create(role_set(pg, db, role_name)).outs
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == len(dbs)
    assert all(o["adopted"] == [] for o in results.values()), "one created it, the others share it"
    for o in results.values():
        p.delete("x", o)
    assert not exists(pg, role_name)


def test_a_login_that_may_not_drop_the_role_is_told_why(pg, db, role_name, pg_version):
    """A CREATEROLE login destroying a role a superuser made: from PostgreSQL 16 on it has
    no ADMIN OPTION on it, and the error names the login and what to do; nothing is dropped."""
    p = ObjectSetProvider()
    outs = p.create(role_set(pg, db, role_name)).outs  # made by the superuser
    login = role_name + "_login"
    with psycopg.connect(pg.dsn(), autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD 'pw'").format(sql.Identifier(login)))
    try:
        as_login = {**outs, "connection": connection(pg, db, username=login, password="pw")}
        if pg_version >= 16:
            with pytest.raises(ProviderError) as exc:
                p.delete("x", as_login)
            assert str(exc.value) == (
                f'{login}@127.0.0.1:{pg.port}/{db}: SQLSTATE 42501: permission denied to grant role "{role_name}" '
                "(from PostgreSQL 16 on, a login that is not a superuser may grant or drop only a role it has "
                "ADMIN OPTION on, as on those it made: connect as a superuser, or as the login that made the role)")
            assert exists(pg, role_name)
            p.delete("x", outs)
        else:
            p.delete("x", as_login)
        assert not exists(pg, role_name)
    finally:
        with psycopg.connect(pg.dsn(), autocommit=True) as c:
            c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))
