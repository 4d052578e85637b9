"""The desired state as plain data: every database object the stack owns, in order.

The tracking system comes from sql/ (sqlsource); the schemas, the owner, writer
and reader roles, the owner's ownership, the grants and the DDL tracker's filter
rows are built here from the settings, with psycopg.sql composition (role names
are user input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

import pulumi
from pglast import ast, parse_sql
from psycopg import sql

from .sqlsource import OBJECT_FILES, SQL_DIR, TRIGGER_FILES, DbObject, SqlSourceError, identifier, load_objects

FILTER_TABLE = "script_tracking.ddl_tracker_filter"
LIMIT_TABLE = "script_tracking.tracking_limit"
# Settings field -> (row of the limit table, the largest value it takes); unset = the
# table's default (script_tracking.tracking_limits in sql/), for retention_days: no retention
LIMITS = {"max_script_name_chars": ("script_name_chars", 255),
          "max_details_bytes": ("details_bytes", 2**31 - 1),
          "max_error_message_chars": ("error_message_chars", 2**31 - 1),
          "retention_days": ("retention_days", 36500)}
# Objects that hold state: when they leave sql/ they stay in the database with their
# rows (the provider records them as retained); destroy drops them.
RETAINED = ("table", "sequence")
# The functions each role may call, by name; signatures come from sql/.
WRITER_FUNCTIONS = ("script_tracking.track_operation", "script_tracking.complete_operation",
                    "public.track_operation", "public.complete_operation")
READER_FUNCTIONS = ("script_tracking.get_execution_history",)
READER_VIEWS = ("script_tracking.ddl_history",)


ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
COMMAND_TAG = re.compile(r"^[A-Z][A-Z ]{1,62}$")
# The roles of an installation, by slot; the names are settings. The owner role owns
# every object of ours (so definer functions never run as a superuser); writer and
# reader are granted to.
ROLE_SLOTS = ("owner", "writer", "reader")
# What the owner role is made the owner of (indexes and identity sequences follow their table)
OWNED = ("schema", "sequence", "table", "function", "view")


class SettingsError(ValueError, pulumi.RunError):
    """A setting is out of range or malformed; `field` names it (a Settings or
    ConnectionArgs field). A RunError: Pulumi shows a program that raises it one
    line, its message, and no traceback."""

    def __init__(self, field: str, problem: str, owner: str | None = None) -> None:
        super().__init__(f"{f'ScriptTracking {owner!r}: ' if owner else ''}{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class Settings:
    """What an installation configures; checked on construction (SettingsError names the field)."""

    track_ddl: bool = True
    # "" = no owner role: the objects stay owned by the login that applies them
    owner_role: str = "script_tracking_owner"
    writer_role: str = "script_tracking_writer"
    reader_role: str = "script_tracking_reader"
    ddl_include_schemas: tuple[str, ...] = ()
    ddl_exclude_schemas: tuple[str, ...] = ()
    ddl_include_tags: tuple[str, ...] = ()
    ddl_exclude_tags: tuple[str, ...] = ()
    max_script_name_chars: int | None = None
    max_details_bytes: int | None = None
    max_error_message_chars: int | None = None
    # the age script_tracking.purge_executions() purges at; None = no retention
    retention_days: int | None = None
    sql_dir: Path = field(default=SQL_DIR)

    def __post_init__(self) -> None:
        if not isinstance(self.track_ddl, bool):
            raise SettingsError("track_ddl", f"{self.track_ddl!r} is not true or false")
        for name in ("writer_role", "reader_role"):
            value = getattr(self, name)
            if not isinstance(value, str) or not ROLE_NAME.match(value):
                raise SettingsError(name, f"{value!r} is not a valid role name (lower case letters, digits, _)")
        if not isinstance(self.owner_role, str) or (self.owner_role and not ROLE_NAME.match(self.owner_role)):
            raise SettingsError("owner_role", f"{self.owner_role!r} is not a valid role name "
                                              "(lower case letters, digits, _; or empty for none)")
        for a, b in (("writer_role", "reader_role"), ("owner_role", "writer_role"), ("owner_role", "reader_role")):
            if getattr(self, a) == getattr(self, b):
                # named under the field that was set (the other one kept its default)
                unset = getattr(self, b) == getattr(Settings, b) and getattr(self, a) != getattr(Settings, a)
                blamed, other = (a, b) if unset else (b, a)
                raise SettingsError(blamed, f"{getattr(self, blamed)!r} is also the {other.split('_')[0]} role "
                                            "(the three roles must differ)")
        for name, pattern, what in (
                ("ddl_include_schemas", SCHEMA_NAME, "schema name"), ("ddl_exclude_schemas", SCHEMA_NAME, "schema name"),
                ("ddl_include_tags", COMMAND_TAG, "command tag (such as CREATE TABLE)"),
                ("ddl_exclude_tags", COMMAND_TAG, "command tag (such as CREATE TABLE)")):
            values = getattr(self, name)
            if isinstance(values, str) or not all(isinstance(v, str) for v in values):
                raise SettingsError(name, "must be a list of strings")
            for v in values:
                if not pattern.match(v):
                    raise SettingsError(name, f"{v!r} is not a valid {what}")
            object.__setattr__(self, name, tuple(values))
        for name, (_, highest) in LIMITS.items():
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 < value <= highest):
                raise SettingsError(name, f"{value!r} is not a whole number in 1..{highest}")
        object.__setattr__(self, "sql_dir", Path(self.sql_dir))
        if not self.sql_dir.is_dir():
            raise SettingsError("sql_dir", f"{self.sql_dir} is not a directory")

    def role(self, slot: str) -> str:
        return {"owner": self.owner_role, "writer": self.writer_role, "reader": self.reader_role}[slot]


def whole_number(value: object) -> object:
    """A number that crossed the engine (a double such as 5432.0) as the int it is;
    anything else unchanged, for the checks to judge."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _render(composed: sql.Composable) -> str:
    return composed.as_string(None)


def grant_statement(privilege: str, on: str, target: str, role: str) -> str:
    """GRANT privilege ON <on> target TO role; `target` is an identity (schema, relation, function)."""
    target_sql = sql.Identifier(target) if on == "schema" else identifier(target)
    return _render(sql.SQL("GRANT {} ON {} {} TO {}").format(
        sql.SQL(privilege), sql.SQL(on.upper()), target_sql, sql.Identifier(role)))


def owner_statement(on: str, target: str, role: str | None) -> str:
    """ALTER <on> target OWNER TO role (None: to the current user)."""
    target_sql = sql.Identifier(target) if on == "schema" else identifier(target)
    return _render(sql.SQL("ALTER {} {} OWNER TO {}").format(
        sql.SQL(on.upper()), target_sql, sql.SQL("CURRENT_USER") if role is None else sql.Identifier(role)))


def owner_target(identity: str) -> tuple[str, str]:
    """(kind, identity) of what an owner object hands over; see _owner."""
    on, _, target = identity.removeprefix("owner of ").partition(" ")
    return on, target


def _owner(on: str, target: str, role: str) -> DbObject:
    # like a grant, named by the slot: the role may be another resource's output
    return DbObject("owner", f"owner of {on} {target}", None, "owner", (owner_statement(on, target, role),),
                    depends_on=(target,))


def grant_object(privilege: str, on: str, target: str, slot: str, role: str) -> DbObject:
    # named by the role's slot, not its name: the name may be another resource's output
    return DbObject("grant", f"{slot}: {privilege} on {on} {target}", None, slot,
                    (grant_statement(privilege, on, target, role),), depends_on=(target,))


def _rows(name: str, columns: tuple[str, str], rows: list[tuple]) -> DbObject:
    """The rows of a settings table, as the settings say: all of them replaced."""
    table = identifier(name)
    statements = [_render(sql.SQL("DELETE FROM {}").format(table))]
    if rows:
        statements.append(_render(sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
            table, sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.SQL("({}, {})").format(sql.Literal(a), sql.Literal(b)) for a, b in rows))))
    schema, _, table_name = name.partition(".")
    return DbObject("data", name, schema, table_name, tuple(statements), depends_on=(name,))


def rows_of(objects: Iterable[dict], table: str) -> list[tuple[str | None, ...]]:
    """The rows that the `table` rows object among `objects` (as _rows made it, crossed
    the engine as a dict) writes, each value as its text."""
    return [tuple(map(_constant, row))
            for o in objects if o.get("kind") == "data" and o.get("identity") == table
            for text in o.get("statements") or () for raw in parse_sql(text)
            if isinstance(raw.stmt, ast.InsertStmt)
            for row in getattr(raw.stmt.selectStmt, "valuesLists", None) or ()]


def _constant(node: ast.Node) -> str | None:
    """A constant's value as text (a string, a number); None for NULL or an expression."""
    value = node.val if isinstance(node, ast.A_Const) else None
    for attr in ("sval", "ival", "fval"):
        if hasattr(value, attr):
            return str(getattr(value, attr))
    return None


def _filter_rows(s: Settings) -> DbObject:
    return _rows(FILTER_TABLE, ("kind", "value"), [(kind, value) for kind, values in (
        ("include_schema", s.ddl_include_schemas), ("exclude_schema", s.ddl_exclude_schemas),
        ("include_tag", s.ddl_include_tags), ("exclude_tag", s.ddl_exclude_tags)) for value in values])


def _limit_rows(s: Settings) -> DbObject:
    return _rows(LIMIT_TABLE, ("name", "value"), [(row, getattr(s, field)) for field, (row, _) in LIMITS.items()
                                                  if getattr(s, field) is not None])


def desired_objects(s: Settings) -> list[DbObject]:
    files = OBJECT_FILES + (TRIGGER_FILES if s.track_ddl else ())
    sources = load_objects(files, s.sql_dir)
    schemas = sorted({o.schema for o in sources if o.schema and o.schema != "public"})

    objects: list[DbObject] = [
        DbObject("schema", name, None, name, (_render(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name))),))
        for name in schemas
    ]
    # every object in a schema of ours waits for that schema
    objects += [replace(o, depends_on=o.depends_on + ((o.schema,) if o.schema in schemas else ()))
                for o in sources]
    for role in filter(None, map(s.role, ROLE_SLOTS)):
        # every attribute spelled out, so that drift of any of them can be undone
        objects.append(DbObject("role", role, None, role, (_render(sql.SQL(
            "CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT").format(
                sql.Identifier(role))),)))

    def functions(names: tuple[str, ...]) -> list[str]:
        found = [o.identity for o in sources if o.kind == "function"
                 and f"{o.schema}.{o.name}" in names]
        missing = set(names) - {i.partition("(")[0] for i in found}
        if missing:
            raise SqlSourceError(f"it does not declare the functions {sorted(missing)}")
        return found

    for slot, funcs, views in (("writer", functions(WRITER_FUNCTIONS), ()),
                               ("reader", functions(READER_FUNCTIONS), READER_VIEWS)):
        role = s.role(slot)
        # USAGE only on the schemas of what the role may call or read (not util: the
        # audit function runs inside definer functions)
        for schema in sorted({t.partition("(")[0].split(".")[0] for t in (*funcs, *views)} & set(schemas)):
            objects.append(grant_object("USAGE", "schema", schema, slot, role))
        for f in funcs:
            objects.append(grant_object("EXECUTE", "function", f, slot, role))
        for v in views:
            objects.append(grant_object("SELECT", "table", v, slot, role))
    if s.owner_role:
        objects += [_owner(o.kind, o.identity, s.owner_role) for o in objects if o.kind in OWNED]
    # the rows of the settings tables that sql/ declares (an older sql/ may lack one)
    tables = {o.identity for o in sources if o.kind == "table"}
    objects += [rows for rows in (_filter_rows(s), _limit_rows(s)) if rows.identity in tables]
    return objects
