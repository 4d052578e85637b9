"""The Pulumi program: read the stack's configuration, declare the tracking system.

Connection settings use pulumi-postgresql's standard keys (postgresql:host, port,
database, username, password, sslmode); product settings live under
script-tracking:. Every value is checked here, so a bad one stops the preview
with a one-line error that names its key.
"""

from __future__ import annotations

import re
from pathlib import Path

import pulumi

from components import ConnectionArgs, ScriptTracking, ScriptTrackingArgs, Settings
from components.db import ProviderError
from components.preflight import preflight

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
COMMAND_TAG = re.compile(r"^[A-Z][A-Z ]{1,62}$")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


# The program launcher's exit code for "an error was already shown to the user":
# the engine then adds nothing (no stack trace, no second line).
EXIT_AFTER_ERROR = 32


def stop(message: str) -> None:
    pulumi.log.error(message)
    raise SystemExit(EXIT_AFTER_ERROR)


def fail(key: str, problem: str) -> None:
    stop(f"configuration {key}: {problem}")


def get_int(cfg: pulumi.Config, key: str, default: int, low: int, high: int) -> int:
    raw = cfg.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        fail(f"{cfg.name}:{key}", f"{raw!r} is not a whole number")
    if not low <= value <= high:
        fail(f"{cfg.name}:{key}", f"{value} is outside {low}..{high}")
    return value


def get_bool(cfg: pulumi.Config, key: str, default: bool) -> bool:
    raw = cfg.get(key)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        fail(f"{cfg.name}:{key}", f"{raw!r} is not true or false")
    return raw.lower() == "true"


def get_list(cfg: pulumi.Config, key: str, pattern: re.Pattern, what: str) -> tuple[str, ...]:
    raw = cfg.get_object(key)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        fail(f"{cfg.name}:{key}", "must be a list of strings")
    for v in raw:
        if not pattern.match(v):
            fail(f"{cfg.name}:{key}", f"{v!r} is not a valid {what}")
    return tuple(raw)


def get_name(cfg: pulumi.Config, key: str, default: str) -> str:
    value = cfg.get(key) or default
    if not ROLE_NAME.match(value):
        fail(f"{cfg.name}:{key}", f"{value!r} is not a valid role name (lower case letters, digits, _)")
    return value


pg = pulumi.Config("postgresql")
st = pulumi.Config("script-tracking")

sslmode = pg.get("sslmode") or "prefer"
if sslmode not in SSLMODES:
    fail("postgresql:sslmode", f"{sslmode!r} is not one of {', '.join(SSLMODES)}")
if pg.get("password") is not None and not pulumi.runtime.is_config_secret("postgresql:password"):
    fail("postgresql:password", "must be set as a secret (pulumi config set --secret postgresql:password ...)")

connection = ConnectionArgs(
    host=pg.get("host") or "127.0.0.1",
    port=get_int(pg, "port", 5432, 1, 65535),
    database=pg.get("database") or "postgres",
    username=pg.get("username") or "postgres",
    password=pg.get_secret("password") or pulumi.Output.secret(""),
    sslmode=sslmode,
    lock_timeout_ms=get_int(st, "lockTimeoutMs", 5000, 1, 3_600_000),
    statement_timeout_ms=get_int(st, "statementTimeoutMs", 60000, 1, 86_400_000),
)

settings = Settings(
    track_ddl=get_bool(st, "trackDdl", True),
    writer_role=get_name(st, "writerRole", "script_tracking_writer"),
    reader_role=get_name(st, "readerRole", "script_tracking_reader"),
    ddl_include_schemas=get_list(st, "ddlIncludeSchemas", SCHEMA_NAME, "schema name"),
    ddl_exclude_schemas=get_list(st, "ddlExcludeSchemas", SCHEMA_NAME, "schema name"),
    ddl_include_tags=get_list(st, "ddlIncludeTags", COMMAND_TAG, "command tag (such as CREATE TABLE)"),
    ddl_exclude_tags=get_list(st, "ddlExcludeTags", COMMAND_TAG, "command tag (such as CREATE TABLE)"),
    sql_dir=Path(st.get("sqlDir") or Path(__file__).resolve().parent / "sql").resolve(),
)
if settings.writer_role == settings.reader_role:
    fail("script-tracking:readerRole", "must differ from script-tracking:writerRole")
if not settings.sql_dir.is_dir():
    fail("script-tracking:sqlDir", f"{settings.sql_dir} is not a directory")

try:
    preflight(connection.plain(pg.get("password") or ""), settings.track_ddl)
except ProviderError as exc:
    stop(str(exc))

tracking = ScriptTracking("script-tracking", ScriptTrackingArgs(connection=connection, settings=settings))

pulumi.export("database", f"{connection.host}:{connection.port}/{connection.database}")
pulumi.export("schemas", tracking.schemas)
pulumi.export("writerRole", tracking.writer_role)
pulumi.export("readerRole", tracking.reader_role)
pulumi.export("functions", tracking.functions)
pulumi.export("trackDdl", tracking.track_ddl)
