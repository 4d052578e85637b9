"""The desired state as plain data: every database object the stack owns, in order.

The tracking system comes from sql/ (sqlsource); the schemas, the writer and
reader roles, their grants and the DDL tracker's filter rows are built here from
the settings, with psycopg.sql composition (role names are user input).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from psycopg import sql

from .sqlsource import OBJECT_FILES, SQL_DIR, TRIGGER_FILES, DbObject, identifier, load_objects

FILTER_TABLE = "script_tracking.ddl_tracker_filter"
# Objects that hold state: when they leave sql/ they stay in the database (Pulumi's
# retain-on-delete); their schema drops them on destroy.
RETAINED = ("table", "sequence")
# The functions each role may call, by name; signatures come from sql/.
WRITER_FUNCTIONS = ("script_tracking.track_operation", "script_tracking.complete_operation",
                    "public.track_operation", "public.complete_operation")
READER_FUNCTIONS = ("script_tracking.get_execution_history",)
READER_VIEWS = ("script_tracking.ddl_history",)


@dataclass(frozen=True)
class Settings:
    """What a stack configures (validated by the caller: __main__.py)."""

    track_ddl: bool = True
    writer_role: str = "script_tracking_writer"
    reader_role: str = "script_tracking_reader"
    ddl_include_schemas: tuple[str, ...] = ()
    ddl_exclude_schemas: tuple[str, ...] = ()
    ddl_include_tags: tuple[str, ...] = ()
    ddl_exclude_tags: tuple[str, ...] = ()
    sql_dir: Path = field(default=SQL_DIR)


def _render(composed: sql.Composable) -> str:
    return composed.as_string(None)


def _grant(privilege: str, on: str, target: str, role: str, target_sql: sql.Composable,
           depends_on: tuple[str, ...]) -> DbObject:
    stmt = _render(sql.SQL("GRANT {} ON {} {} TO {}").format(
        sql.SQL(privilege), sql.SQL(on.upper()), target_sql, sql.Identifier(role)))
    return DbObject("grant", f"{role}: {privilege} on {on} {target}", None, role, (stmt,),
                    depends_on=depends_on)


def _filter_rows(s: Settings) -> DbObject:
    rows = [(kind, value) for kind, values in (
        ("include_schema", s.ddl_include_schemas), ("exclude_schema", s.ddl_exclude_schemas),
        ("include_tag", s.ddl_include_tags), ("exclude_tag", s.ddl_exclude_tags)) for value in values]
    table = identifier(FILTER_TABLE)
    statements = [_render(sql.SQL("DELETE FROM {}").format(table))]
    if rows:
        statements.append(_render(sql.SQL("INSERT INTO {} (kind, value) VALUES {}").format(
            table, sql.SQL(", ").join(sql.SQL("({}, {})").format(sql.Literal(k), sql.Literal(v))
                                      for k, v in rows))))
    return DbObject("data", FILTER_TABLE, "script_tracking", "ddl_tracker_filter", tuple(statements),
                    depends_on=(FILTER_TABLE,))


def desired_objects(s: Settings) -> list[DbObject]:
    files = OBJECT_FILES + (TRIGGER_FILES if s.track_ddl else ())
    sources = load_objects(files, s.sql_dir)
    schemas = sorted({o.schema for o in sources if o.schema and o.schema != "public"})

    objects: list[DbObject] = [
        DbObject("schema", name, None, name, (_render(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name))),),
                 owns=tuple((o.kind, o.identity) for o in sources if o.kind in RETAINED and o.schema == name))
        for name in schemas
    ]
    # every object in a schema of ours waits for that schema
    objects += [replace(o, depends_on=o.depends_on + ((o.schema,) if o.schema in schemas else ()))
                for o in sources]
    for role in (s.writer_role, s.reader_role):
        # every attribute spelled out, so that drift of any of them can be undone
        objects.append(DbObject("role", role, None, role, (_render(sql.SQL(
            "CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT").format(
                sql.Identifier(role))),)))

    def functions(names: tuple[str, ...]) -> list[str]:
        found = [o.identity for o in sources if o.kind == "function"
                 and f"{o.schema}.{o.name}" in names]
        missing = set(names) - {i.partition("(")[0] for i in found}
        if missing:
            raise ValueError(f"sql/ does not declare the functions {sorted(missing)}")
        return found

    for role, funcs, views in ((s.writer_role, functions(WRITER_FUNCTIONS), ()),
                               (s.reader_role, functions(READER_FUNCTIONS), READER_VIEWS)):
        # USAGE only on the schemas of what the role may call or read (not util: the
        # audit function runs inside definer functions)
        for schema in sorted({t.partition("(")[0].split(".")[0] for t in (*funcs, *views)} & set(schemas)):
            objects.append(_grant("USAGE", "schema", schema, role, sql.Identifier(schema), (schema, role)))
        for f in funcs:
            objects.append(_grant("EXECUTE", "function", f, role, identifier(f), (f, role)))
        for v in views:
            objects.append(_grant("SELECT", "table", v, role, identifier(v), (v, role)))
    objects.append(_filter_rows(s))
    return objects
