"""What an installation needs of its connection, checked before anything runs:
an unreachable server, a wrong password, a read-only database (a standby), a
missing privilege or a command tag the server does not know stops `pulumi
preview` with one clear line (the provider's `check` calls this) instead of
failing half-way through `up`, or installing a DDL filter that matches nothing."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .db import Connection, ProviderError, describe

# the filter rows' kinds of command tags, and the setting each comes from
TAG_SETTINGS = {"include_tag": "ddlIncludeTags", "exclude_tag": "ddlExcludeTags"}


class PreflightError(ProviderError):
    """The connection cannot install: one line naming the problem."""


def check_writable(pg: psycopg.Connection, conn: Connection) -> None:
    """Every resource's preview, `preflight` or not: a standby or a read-only database can
    install nothing. (Its SQLSTATE 25006 would come from the rendering, or, where the render
    is cached, only at `up`.)"""
    read_only, standby = pg.execute(
        "SELECT current_setting('transaction_read_only')::boolean, pg_is_in_recovery()").fetchone()
    if standby:
        raise PreflightError(f"{conn.where}: the server is a standby (in recovery), where nothing can be installed: "
                             "connect to the primary")
    if read_only:
        raise PreflightError(f"{conn.where}: database {conn.database} is read-only for {conn.username} "
                             "(default_transaction_read_only is on): nothing can be installed there")


def preflight(pg: psycopg.Connection, conn: Connection, event_triggers: bool, owner_role: str | None,
              in_public: bool = False, filter_rows: list[tuple[str | None, ...]] | None = None) -> None:
    """`pg`: a session as `conn`; `event_triggers`: the objects include event triggers;
    `owner_role`: the role the objects are handed to, if any (both need a superuser);
    `in_public`: some objects go into schema public (the scratch rendering puts them in a
    scratch schema, so it cannot tell); `filter_rows`: the DDL tracker's filter rows
    (kind, value), whose command tags the server checks."""
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
    if event_triggers:
        _check_command_tags(pg, conn, filter_rows or [])


def _check_command_tags(pg: psycopg.Connection, conn: Connection,
                        filter_rows: list[tuple[str | None, ...]]) -> None:
    """The filter's command tags, as this server's CREATE EVENT TRIGGER ... WHEN TAG checks
    them (the only place PostgreSQL knows its tags), in a transaction rolled back. A tag it
    does not know ('CREATE TABEL') would leave an include filter recording nothing, an
    exclude filter excluding nothing; a tag whose commands fire no event trigger (CREATE
    DATABASE) is never recorded: harmless to exclude, an include that matches nothing."""
    tags = [(kind, value) for kind, value, *_ in filter_rows if kind in TAG_SETTINGS and value is not None]
    if not tags:
        return
    try:
        with pg.transaction(force_rollback=True):
            pg.execute("SET LOCAL session_replication_role = replica")  # the live tracker records nothing
            pg.execute("CREATE FUNCTION pg_temp.script_tracking_tag_check() RETURNS event_trigger "
                       "LANGUAGE plpgsql AS 'BEGIN END'")
            for kind, tag in tags:
                try:
                    with pg.transaction(force_rollback=True):
                        pg.execute(sql.SQL("CREATE EVENT TRIGGER script_tracking_tag_check ON ddl_command_end "
                                           "WHEN TAG IN ({}) EXECUTE FUNCTION pg_temp.script_tracking_tag_check()"
                                           ).format(sql.Literal(tag)))
                except (psycopg.errors.SyntaxError, psycopg.errors.FeatureNotSupported) as exc:
                    if kind == "include_tag" or isinstance(exc, psycopg.errors.SyntaxError):
                        raise PreflightError(f"{conn.where}: {TAG_SETTINGS[kind]}: {describe(exc)} (the DDL tracker's "
                                             "filter takes the command tags this server's event triggers know)"
                                             ) from None
    except psycopg.Error:
        # the check itself could not run (no PL/pgSQL in the database): so cannot the
        # install, and the rendering that follows names why better than this statement would
        return
