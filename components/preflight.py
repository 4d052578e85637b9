"""Checks made by the program before it declares anything, so that an
unreachable server, a wrong password or a missing privilege stops `pulumi
preview` with one clear line instead of failing half-way through `up`."""

from __future__ import annotations

from .db import Connection, ProviderError, session


def preflight(conn: Connection, track_ddl: bool) -> None:
    with session(conn) as pg:
        superuser, can_create = pg.execute(
            "SELECT rolsuper, has_database_privilege(current_database(), 'CREATE') "
            "FROM pg_roles WHERE rolname = current_user").fetchone()
    if track_ddl and not superuser:
        raise ProviderError(
            f"{conn.username} is not a superuser: the DDL tracker's event triggers need one "
            "(connect as a superuser, or set script-tracking:trackDdl false)")
    if not can_create:
        raise ProviderError(f"{conn.username} may not create schemas in database {conn.database}")
