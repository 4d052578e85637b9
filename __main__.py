"""The project's own Pulumi program: one consumer of the `script_tracking` package.

Two shapes of configuration:
- one database, under pulumi-postgresql's standard keys (postgresql:host, port,
  database, username, password, sslmode): the component is named `script-tracking`;
- a fleet, under `script-tracking:servers`: servers by name, each with host, port,
  username, a secret password, sslmode and the list of its databases; one
  component per database, named `<server>/<database>`, all rolled out in parallel.
Product settings live under script-tracking: and apply to every database. A bad
value stops the preview with one line that names its key.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import pulumi
import yaml
from pulumi.runtime.config import CONFIG, get_config_env

from script_tracking import ConnectionArgs, ScriptTracking, ScriptTrackingArgs, Settings, SettingsError

# The program launcher's exit code for "an error was already shown to the user":
# the engine then adds nothing (no stack trace, no second line).
EXIT_AFTER_ERROR = 32

# Settings and connection fields -> their config keys
SETTING_KEYS = {
    "track_ddl": "trackDdl", "owner_role": "ownerRole", "writer_role": "writerRole", "reader_role": "readerRole",
    "ddl_include_schemas": "ddlIncludeSchemas", "ddl_exclude_schemas": "ddlExcludeSchemas",
    "ddl_include_tags": "ddlIncludeTags", "ddl_exclude_tags": "ddlExcludeTags", "sql_dir": "sqlDir",
    "lock_timeout_ms": "lockTimeoutMs", "statement_timeout_ms": "statementTimeoutMs",
    "max_script_name_chars": "maxScriptNameChars", "max_details_bytes": "maxDetailsBytes",
    "max_error_message_chars": "maxErrorMessageChars", "retention_days": "retentionDays",
}
SERVER_KEYS = ("host", "port", "username", "password", "sslmode", "databases")
# the one database's connection, under pulumi-postgresql's standard keys
CONNECTION_KEYS = ("host", "port", "database", "username", "password", "sslmode")
SERVERS_SHAPE = "an object mapping server names to {host, port, username, password, databases}"


def stop(message: str) -> None:
    pulumi.log.error(message)
    raise SystemExit(EXIT_AFTER_ERROR)


def fail(key: str, problem: str) -> None:
    stop(f"configuration {key}: {problem}")


def checked(make: Callable[[], Any], key_of: Callable[[str], str]) -> Any:
    """make(), with a SettingsError reported under the config key of its field."""
    try:
        return make()
    except SettingsError as exc:
        fail(key_of(exc.field), exc.problem)


def get_bool(cfg: pulumi.Config, key: str, default: bool) -> bool:
    raw = cfg.get(key)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        fail(f"{cfg.name}:{key}", f"{raw!r} is not true or false")
    return raw.lower() == "true"


def get_int(cfg: pulumi.Config, key: str) -> Any:
    raw = cfg.get(key)
    if raw is None:
        return None
    if not re.fullmatch(r"\s*[0-9]+\s*", raw):
        fail(f"{cfg.name}:{key}", f"{raw!r} is not a whole number")
    return int(raw)


def get_json(cfg: pulumi.Config, key: str, shape: type, what: str) -> Any:
    raw = cfg.get(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, shape):
        fail(f"{cfg.name}:{key}", f"must be {what}")
    return value


def get_list(cfg: pulumi.Config, key: str) -> Any:
    return get_json(cfg, key, list, "a JSON list of strings") or ()


def plaintext_in_stack_file(key: str) -> set[str]:
    """The servers whose password the stack's file holds in plaintext. The engine marks
    all of `key` secret once any value inside it is, so only the file tells them apart."""
    try:
        config = yaml.safe_load(Path(f"Pulumi.{pulumi.get_stack()}.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return set()
    servers = (config.get("config") or {}).get(key) if isinstance(config, dict) else None
    return {name for name, spec in servers.items() if isinstance(spec, dict) and spec.get("password") is not None
            and not (isinstance(spec["password"], dict) and "secure" in spec["password"])} \
        if isinstance(servers, dict) else set()


pg = pulumi.Config("postgresql")
st = pulumi.Config("script-tracking")


def refuse_unknown(key: str, name: str, known: Iterable[str], prefix: str = "") -> None:
    """Stops at `key` (whose last part is `name`) unless `name` is one of `known`."""
    if name not in known:
        near = difflib.get_close_matches(name, sorted(known), 1)
        fail(key, "unknown key" + (f" (did you mean {prefix}{near[0]}?)" if near else
                                   f"; the keys are {', '.join(prefix + k for k in sorted(known))}"))


# A misspelt key would be ignored without a word (retentiondays: no retention at all;
# postgresql:databse: an install into database postgres)
for given in sorted({*CONFIG.get(), *get_config_env()}):
    namespace, _, name = given.partition(":")
    if namespace == st.name:
        refuse_unknown(given, name, (*SETTING_KEYS.values(), "servers"), f"{st.name}:")
    elif namespace == pg.name and name not in CONNECTION_KEYS:
        # pulumi-postgresql has more keys (sslrootcert, superuser, ...): a near miss of one
        # this program reads is a typo; any other is only unused here
        if difflib.get_close_matches(name, CONNECTION_KEYS, 1, 0.7):
            refuse_unknown(given, name, CONNECTION_KEYS, f"{pg.name}:")
        pulumi.log.warn(f"configuration {given}: not read by this program (it connects with "
                        f"{', '.join(pg.name + ':' + k for k in CONNECTION_KEYS)})")


def setting_key(field: str) -> str:
    return f"script-tracking:{SETTING_KEYS.get(field, field)}"


settings: Settings = checked(lambda: Settings(
    track_ddl=get_bool(st, "trackDdl", True),
    # "" is a value here (no owner role), so only a missing key takes the default
    owner_role=st.get("ownerRole") if st.get("ownerRole") is not None else "script_tracking_owner",
    writer_role=st.get("writerRole") or "script_tracking_writer",
    reader_role=st.get("readerRole") or "script_tracking_reader",
    ddl_include_schemas=get_list(st, "ddlIncludeSchemas"),
    ddl_exclude_schemas=get_list(st, "ddlExcludeSchemas"),
    ddl_include_tags=get_list(st, "ddlIncludeTags"),
    ddl_exclude_tags=get_list(st, "ddlExcludeTags"),
    max_script_name_chars=get_int(st, "maxScriptNameChars"),
    max_details_bytes=get_int(st, "maxDetailsBytes"),
    max_error_message_chars=get_int(st, "maxErrorMessageChars"),
    retention_days=get_int(st, "retentionDays"),
    sql_dir=Path(st.get("sqlDir") or Path(__file__).resolve().parent / "sql").resolve(),
), setting_key)
timeouts = {"lock_timeout_ms": st.get("lockTimeoutMs") or 5000,
            "statement_timeout_ms": st.get("statementTimeoutMs") or 60000}


def install(name: str, connection: ConnectionArgs, key_of: Callable[[str], str], preflight: bool) -> ScriptTracking:
    return checked(lambda: ScriptTracking(name, ScriptTrackingArgs(
        connection=connection, settings=settings, preflight=preflight)), key_of)


servers = get_json(st, "servers", dict, SERVERS_SHAPE)
if servers is None:
    # one database, under pulumi-postgresql's keys
    if pg.get("password") is not None and not pulumi.runtime.is_config_secret("postgresql:password"):
        fail("postgresql:password", "must be set as a secret (pulumi config set --secret postgresql:password ...)")
    connection = ConnectionArgs(
        host=pg.get("host") or "127.0.0.1", port=pg.get("port") or 5432,
        database=pg.get("database") or "postgres", username=pg.get("username") or "postgres",
        password=pg.get_secret("password") or pulumi.Output.secret(""), password_config="postgresql:password",
        sslmode=pg.get("sslmode") or "prefer", **timeouts)
    tracking = install("script-tracking", connection,
                       lambda f: f"postgresql:{f}" if f in ("host", "port", "database", "username", "sslmode")
                       else setting_key(f), preflight=True)
    pulumi.export("database", f"{connection.host}:{connection.port}/{connection.database}")
    for output in ("schemas", "ownerRole", "writerRole", "readerRole", "functions", "trackDdl"):
        pulumi.export(output, getattr(tracking, "".join("_" + c.lower() if c.isupper() else c for c in output)))
else:
    # a fleet: every database of every server, one component each
    if pg.get("host") is not None or pg.get("database") is not None:
        fail("script-tracking:servers", "set either postgresql:* (one database) or script-tracking:servers, not both")
    if not servers:
        fail("script-tracking:servers", f"must be {SERVERS_SHAPE}")
    secret = pulumi.runtime.is_config_secret("script-tracking:servers")
    plaintext = plaintext_in_stack_file("script-tracking:servers")
    installed: list[str] = []
    for server, spec in servers.items():
        key = f"script-tracking:servers.{server}"
        if not isinstance(spec, dict):
            fail(key, f"must be an object with {', '.join(SERVER_KEYS)}")
        for name in sorted(spec):
            refuse_unknown(f"{key}.{name}", name, set(SERVER_KEYS))
        if spec.get("password") is not None and (not secret or server in plaintext):
            fail(f"{key}.password", f"must be set as a secret (pulumi config set --path --secret '{key}.password' ...)")
        databases = spec.get("databases")
        if not isinstance(databases, list) or not databases or not all(isinstance(d, str) and d for d in databases):
            fail(f"{key}.databases", "must be a non-empty list of database names")
        if len(set(databases)) != len(databases):
            fail(f"{key}.databases", "names a database twice")
        for database in databases:
            connection = ConnectionArgs(
                host=spec.get("host") or "127.0.0.1", port=5432 if spec.get("port") is None else spec["port"],
                database=database,
                username=spec.get("username") or "postgres",
                password=pulumi.Output.secret(spec.get("password") or ""), password_config=f"{key}.password",
                sslmode=spec.get("sslmode") or "prefer", **timeouts)
            install(f"{server}/{database}", connection,
                    lambda f, k=key: f"{k}.{f}" if f in ("host", "port", "username", "sslmode") else
                    f"{k}.databases" if f == "database" else setting_key(f),
                    # one server down must not stop the others (`up --continue-on-error`)
                    preflight=False)
            installed.append(f"{server}/{database}")
    pulumi.export("databases", installed)
    pulumi.export("ownerRole", settings.owner_role)
    pulumi.export("writerRole", settings.writer_role)
    pulumi.export("readerRole", settings.reader_role)
    pulumi.export("trackDdl", settings.track_ddl)
