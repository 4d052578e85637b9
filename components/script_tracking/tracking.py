"""ScriptTracking: the whole tracking system in one database, as a Pulumi component.

Children, named with the component's name as prefix and parented to it:
  <name>-owner, <name>-writer,   the roles (sql:Role), unless roles made
  <name>-reader                  elsewhere are passed in by name; the owner
                                 role owns every object, writer and reader are
                                 granted to
  <name>-objects                 every object of the system in that database
                                 (sql:Objects): schemas, tables, functions, the
                                 view, grants, event triggers, filter rows

Roles belong to the server: every installation on one server shares one owner,
one writer and one reader role, which the last installation to go drops. Many components
may live in one program (one per database); two on the same database are refused.
"""

# No `from __future__ import annotations`: Pulumi's schema analyzer reads the
# component's output annotations (plugin.py) and does not evaluate strings.
import re
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi

from .catalog import grant_params
from .desired import ROLE_SLOTS, Settings, SettingsError, desired_objects, grant_statement, owner_statement, \
    owner_target, whole_number
from .provider import WHERE, Objects, Role
from .sqlsource import DbObject, SqlSourceError

TYPE_TOKEN = "script-tracking:index:ScriptTracking"
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass
class ConnectionArgs:
    """How to reach the database; every field may be another resource's output."""

    host: pulumi.Input[str]
    port: pulumi.Input[int]
    database: pulumi.Input[str]
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    sslmode: pulumi.Input[str] = "prefer"
    lock_timeout_ms: pulumi.Input[int] = 5000
    statement_timeout_ms: pulumi.Input[int] = 60000
    # The stack config key the password is set under ("postgresql:password", or a path such
    # as "script-tracking:servers.main.password"): refresh and destroy, which run with the
    # connection of the last apply, then take the password set there now (a rotated one).
    password_config: Optional[str] = None


def check_connection(values: dict[str, Any]) -> dict[str, Any]:
    """The connection as the provider takes it, each field checked (SettingsError names it)."""
    def whole(name: str, low: int, high: int) -> int:
        value = whole_number(values[name])
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not re.fullmatch(r"\s*[0-9]+\s*", str(value)):
            raise SettingsError(name, f"{value!r} is not a whole number")
        if not low <= int(value) <= high:
            raise SettingsError(name, f"{value} is outside {low}..{high}")
        return int(value)

    for name in ("host", "database", "username"):
        if not isinstance(values[name], str) or not values[name]:
            raise SettingsError(name, f"{values[name]!r} is not a non-empty string")
    if values["sslmode"] not in SSLMODES:
        raise SettingsError("sslmode", f"{values['sslmode']!r} is not one of {', '.join(SSLMODES)}")
    return {
        "host": values["host"], "port": whole("port", 1, 65535), "database": values["database"],
        "username": values["username"], "password": values["password"] or "", "sslmode": values["sslmode"],
        "lockTimeoutMs": whole("lock_timeout_ms", 1, 3_600_000),
        "statementTimeoutMs": whole("statement_timeout_ms", 1, 86_400_000),
        **({"passwordConfig": values["password_config"]} if values.get("password_config") else {}),
    }


# per program run: database -> the component installed into it. A run is known by
# its resource monitor (tests run many programs in one process).
_CLAIMED: "weakref.WeakKeyDictionary[Any, dict[tuple[str, int, str], str]]" = weakref.WeakKeyDictionary()


def _claim(name: str, conn: dict[str, Any]) -> None:
    where = tuple(conn[k] for k in WHERE)
    claimed = _CLAIMED.setdefault(pulumi.runtime.settings.get_monitor(), {})
    other = claimed.setdefault(where, name)
    if other != name:
        raise SettingsError("database", f"ScriptTracking {name!r} and {other!r} both install into "
                                        f"{where[0]}:{where[1]}/{where[2]}: one installation per database")


@dataclass
class ScriptTrackingArgs:
    connection: ConnectionArgs
    settings: Settings = field(default_factory=Settings)
    # Roles made elsewhere (for example a pulumi_postgresql.Role's `name`): made the
    # owner of or granted to, never created or dropped. When None, the component
    # manages the role named in settings, shared by every installation on the server.
    owner_role: Optional[pulumi.Input[str]] = None
    writer_role: Optional[pulumi.Input[str]] = None
    reader_role: Optional[pulumi.Input[str]] = None
    # check at preview (in the provider's check) that the server answers and the user
    # has the privileges needed. A failed check stops the whole deployment, even with
    # --continue-on-error, so a fleet that must go on while one server is down turns
    # it off: the same problems then fail only that database's apply, named.
    preflight: bool = True


class ScriptTracking(pulumi.ComponentResource):
    schemas: pulumi.Output[list[str]]
    owner_role: pulumi.Output[str]
    writer_role: pulumi.Output[str]
    reader_role: pulumi.Output[str]
    functions: pulumi.Output[list[str]]
    track_ddl: pulumi.Output[bool]

    def __init__(self, name: str, args: ScriptTrackingArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        c = args.connection
        fields = {"host": c.host, "port": c.port, "database": c.database, "username": c.username,
                  "password": c.password, "sslmode": c.sslmode, "lock_timeout_ms": c.lock_timeout_ms,
                  "statement_timeout_ms": c.statement_timeout_ms, "password_config": c.password_config}
        if not any(isinstance(v, pulumi.Output) for k, v in fields.items() if k != "password"):
            # plain values: a bad one stops the program here, before anything is declared
            _claim(name, check_connection({**fields, "password": ""}))

        def checked(values: list) -> dict:
            try:
                conn = check_connection(dict(zip(fields, values)))
                _claim(name, conn)
                return conn
            except SettingsError as exc:
                # known only now, inside the engine's run: raising here would race with the
                # registrations that wait for it (sometimes a traceback), so the provider's
                # check reports it instead, one line per resource, naming the installation
                return {"invalid": str(SettingsError(exc.field, exc.problem, owner=name))}

        # the password stays a secret inside the object; the whole object is one too
        connection = pulumi.Output.secret(pulumi.Output.all(*fields.values()).apply(checked))
        child = pulumi.ResourceOptions(parent=self)
        if args.owner_role is not None and not args.settings.owner_role:
            raise SettingsError("owner_role", "is given as an argument but set to '' (no owner role) in settings",
                                owner=name)
        try:
            objects = desired_objects(args.settings)
        except OSError as exc:  # a file of the system missing or unreadable
            raise SettingsError("sql_dir", f"{exc.strerror}: {exc.filename}", owner=name) from None
        except SqlSourceError as exc:  # SQL that does not parse, or does not fit the provider's rules
            raise SettingsError("sql_dir", f"{args.settings.sql_dir}: {exc}", owner=name) from None

        roles: dict[str, pulumi.Output[str]] = {}
        role_resources: list[pulumi.Resource] = []
        for slot in ROLE_SLOTS:
            given = getattr(args, f"{slot}_role")
            if given is not None:
                roles[slot] = pulumi.Output.from_input(given)
                continue
            if not args.settings.role(slot):
                roles[slot] = pulumi.Output.from_input("")  # no owner role: the applying login owns
                continue
            role = next(o for o in objects if o.kind == "role" and o.identity == args.settings.role(slot))
            resource = Role(f"{name}-{slot}", {role.key: _props(role)}, connection, False, child)
            role_resources.append(resource)
            roles[slot] = resource.objects.apply(lambda _, n=role.identity: n)

        def props(o: DbObject) -> pulumi.Input[dict[str, Any]]:
            given = getattr(args, f"{o.name}_role") if o.kind in ("grant", "owner") else None
            if given is None:
                return _props(o)
            if o.kind == "owner":
                def statement(role: str) -> str:
                    return owner_statement(*owner_target(o.identity), role)
            else:
                params = grant_params(o.statements[0])

                def statement(role: str) -> str:
                    return grant_statement(params["privilege"], params["on"], params["target"], role)

            def given_to(role: Any) -> dict[str, Any]:
                if not isinstance(role, str) or not 0 < len(role) < 64:
                    # reported by the provider's check, like a bad connection value
                    return {**_props(o), "invalid": f"ScriptTracking {name!r}: {o.name}_role: {role!r} "
                                                    "is not a role name"}
                return {**_props(o), "statements": [statement(role)]}

            return pulumi.Output.from_input(given).apply(given_to)

        system = Objects(f"{name}-objects", {o.key: props(o) for o in objects if o.kind != "role"},
                         connection, args.preflight,
                         pulumi.ResourceOptions(parent=self, depends_on=role_resources))

        def after_apply(value: Any) -> pulumi.Output:
            # known once the objects exist, and a dependency on them for consumers
            return system.applied.apply(lambda _: value)

        self.schemas = after_apply([o.identity for o in objects if o.kind == "schema"])
        self.functions = after_apply([o.identity for o in objects if o.kind == "function"])
        self.owner_role, self.writer_role, self.reader_role = roles["owner"], roles["writer"], roles["reader"]
        self.track_ddl = after_apply(args.settings.track_ddl)
        self.register_outputs({
            "schemas": self.schemas, "ownerRole": self.owner_role, "writerRole": self.writer_role,
            "readerRole": self.reader_role,
            "functions": self.functions, "trackDdl": self.track_ddl,
        })


def _props(o: DbObject) -> dict[str, Any]:
    return {"kind": o.kind, "identity": o.identity, "statements": list(o.statements),
            "dependsOn": list(o.depends_on)}
