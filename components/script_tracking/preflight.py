"""What an installation needs of its connection, checked before anything runs:
an unreachable server, a wrong password or a missing privilege stops `pulumi
preview` with one clear line (the provider's `check` calls this) instead of
failing half-way through `up`."""

from __future__ import annotations

import psycopg

from .db import Connection, ProviderError


class PreflightError(ProviderError):
    """The connection cannot install: one line naming the problem."""


def preflight(pg: psycopg.Connection, conn: Connection, event_triggers: bool, owner_role: str | None,
              in_public: bool = False) -> None:
    """`pg`: a session as `conn`; `event_triggers`: the objects include event triggers;
    `owner_role`: the role the objects are handed to, if any (both need a superuser);
    `in_public`: some objects go into schema public (the scratch rendering puts them in a
    scratch schema, so it cannot tell)."""
    superuser, can_create, can_create_in_public = pg.execute(
        "SELECT rolsuper, has_database_privilege(current_database(), 'CREATE'), "
        "       has_schema_privilege('public', 'CREATE') "
        "FROM pg_roles WHERE rolname = current_user").fetchone()
    owner_is_superuser = pg.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s",
                                    (owner_role,)).fetchone() == (True,)
    if owner_is_superuser:
        raise PreflightError(f"{conn.where}: the owner role {owner_role} is a superuser, and the definer functions "
                            "would run as one (set ownerRole to a role that is not)")
    if not superuser and event_triggers:
        raise PreflightError(
            f"{conn.where}: {conn.username} is not a superuser: the DDL tracker's event triggers need one "
            "(connect as a superuser, or set trackDdl false)")
    if not superuser and owner_role:
        raise PreflightError(
            f"{conn.where}: {conn.username} is not a superuser: making {owner_role} the owner of the objects "
            f"needs one (connect as a superuser, or set ownerRole to \"\" so that {conn.username} owns them)")
    if not can_create:
        raise PreflightError(f"{conn.where}: {conn.username} may not create schemas in database {conn.database}")
    if in_public and not can_create_in_public:
        raise PreflightError(f"{conn.where}: {conn.username} may not create in schema public (the wrappers "
                             f"public.track_operation and public.complete_operation go there; PostgreSQL 15 and "
                             f"later grant that to nobody by default): GRANT CREATE ON SCHEMA public TO {conn.username}")
