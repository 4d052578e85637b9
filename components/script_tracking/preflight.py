"""What an installation needs of its connection, checked before anything runs:
an unreachable server, a wrong password or a missing privilege stops `pulumi
preview` with one clear line (the provider's `check` calls this) instead of
failing half-way through `up`."""

from __future__ import annotations

from .db import Connection, ProviderError, session


def preflight(conn: Connection, superuser_needed: bool) -> None:
    with session(conn) as pg:
        superuser, can_create = pg.execute(
            "SELECT rolsuper, has_database_privilege(current_database(), 'CREATE') "
            "FROM pg_roles WHERE rolname = current_user").fetchone()
    if superuser_needed and not superuser:
        raise ProviderError(
            f"{conn.where}: {conn.username} is not a superuser: the DDL tracker's event triggers need one "
            "(connect as a superuser, or set trackDdl false)")
    if not can_create:
        raise ProviderError(f"{conn.where}: {conn.username} may not create schemas in database {conn.database}")
