"""The desired state as this server renders it (the "dev database" idea of Atlas).

Every desired object is created under a scratch name (its schema, role or event
trigger name prefixed with a random token) inside a transaction that is always
rolled back, and read back with the very catalog queries that read the live
objects. Comparing the two fingerprints is then exact for every kind alike:
column types and typmods, defaults, NOT NULL, constraint and index definitions,
signatures, results, bodies, attributes, view definitions, grants and comments,
each as this server (any major) prints it.

Names are rewritten in the parse tree (pglast), never in text: qualified names,
regclass literals ('schema.name'), role names and event trigger names. Function
bodies are strings and keep their names, which is what the live ones hold too.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections import OrderedDict
from typing import Any, Callable

import psycopg
from pglast import ast, parse_sql
from pglast.stream import RawStream
from psycopg import sql

from . import catalog
from .db import ProviderError, describe
from .sqlsource import identify

Objects = dict[str, dict[str, Any]]  # key -> {kind, identity, statements, dependsOn}


class ScratchError(ProviderError):
    """The desired SQL does not apply on this server (found before anything changes)."""


class Names:
    """The set's objects, each with its scratch name: a schema-qualified object goes
    to a scratch copy of its schema, a role and an event trigger (global names) get a
    prefix. What the set refers to but does not hold keeps its real name (it is
    another resource's, and exists)."""

    def __init__(self, objects: Objects) -> None:
        self.prefix = f"_st{secrets.token_hex(4)}_"
        self.qualified = {q for q in map(_qualified_of, objects.values()) if q}
        self.schemas = {o["identity"] for o in objects.values() if o["kind"] == "schema"}
        self.roles = {o["identity"] for o in objects.values() if o["kind"] == "role"}
        self.triggers = {o["identity"] for o in objects.values() if o["kind"] == "event_trigger"}
        # the schemas the scratch copies go to: those of the set, and those of its objects
        self.scratch_schemas = self.schemas | {q.split(".")[0] for q in self.qualified}
        self._names = re.compile(r"\b(" + "|".join(map(re.escape, sorted(self.qualified))) + r")\b") \
            if self.qualified else None

    def scratch(self, name: str) -> str:
        return self.prefix + name

    def text(self, text: str) -> str:
        """A text with the set's qualified names (schema.name) in their scratch schemas."""
        return self._names.sub(lambda m: self.scratch(m.group(1)), text) if self._names else text

    def identity(self, kind: str, identity: str, statement: str) -> str:
        """The identity of a scratch object (`statement`: its rewritten CREATE)."""
        if kind in ("schema", "role", "event_trigger"):
            return self.scratch(identity) if identity in self.schemas | self.roles | self.triggers else identity
        if kind == "owner":  # owner of <kind> <identity>
            on, _, target = identity.removeprefix("owner of ").partition(" ")
            return f"owner of {on} {self.identity(on, target, '')}"
        if kind == "index" and statement:  # in its table's schema: see _rewrite
            return identify(parse_sql(statement)[0].stmt)[3]
        return self.text(identity)

    def statement(self, text: str) -> str:
        out = []
        for raw in parse_sql(text):
            self._rewrite(raw.stmt)
            out.append(RawStream()(raw.stmt))
        return ";\n".join(out)

    def restore(self, value: Any) -> Any:
        """A scratch object's fingerprint with our names back in it."""
        if isinstance(value, str):
            return value.replace(self.prefix, "")
        if isinstance(value, dict):
            return {k: self.restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.restore(v) for v in value]
        return value

    # ------------------------------------------------------------ the parse tree

    def _ours(self, schema: str | None, name: str | None) -> bool:
        return f"{schema}.{name}" in self.qualified

    def _qualified_name(self, names: tuple) -> tuple:
        if len(names) >= 2 and all(isinstance(n, ast.String) for n in names[:2]) \
                and self._ours(names[0].sval, names[1].sval):
            return (ast.String(sval=self.scratch(names[0].sval)), *names[1:])
        return names

    def _rewrite(self, node: Any) -> None:
        if isinstance(node, (list, tuple)):
            for item in node:
                self._rewrite(item)
            return
        if not isinstance(node, ast.Node):
            return
        if isinstance(node, ast.IndexStmt) and not self._ours(node.relation.schemaname, node.relation.relname):
            # on a table the set does not hold: in that table's schema, under a scratch name
            node.idxname = self.scratch(node.idxname)
        if isinstance(node, ast.RangeVar) and self._ours(node.schemaname, node.relname):
            node.schemaname = self.scratch(node.schemaname)
        elif isinstance(node, ast.RoleSpec) and node.rolename in self.roles:
            node.rolename = self.scratch(node.rolename)
        elif isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
            node.val = ast.String(sval=self.text(node.val.sval))  # 'schema.name'::regclass
        elif isinstance(node, ast.CreateSchemaStmt) and node.schemaname in self.schemas:
            node.schemaname = self.scratch(node.schemaname)
        elif isinstance(node, ast.CreateRoleStmt) and node.role in self.roles:
            node.role = self.scratch(node.role)
        elif isinstance(node, ast.CreateEventTrigStmt) and node.trigname in self.triggers:
            node.trigname = self.scratch(node.trigname)
        # a schema, role or event trigger named as the object of a GRANT, COMMENT or OWNER TO
        objtype = getattr(node, "objtype", None) or getattr(node, "objectType", None)
        named = {"OBJECT_SCHEMA": self.schemas, "OBJECT_ROLE": self.roles,
                 "OBJECT_EVENT_TRIGGER": self.triggers}.get(getattr(objtype, "name", ""))
        if named is not None:
            for attr in ("objects", "object"):
                value = getattr(node, attr, None)
                if isinstance(value, ast.String) and value.sval in named:
                    setattr(node, attr, ast.String(sval=self.scratch(value.sval)))
                elif isinstance(value, tuple):
                    setattr(node, attr, tuple(ast.String(sval=self.scratch(v.sval))
                                              if isinstance(v, ast.String) and v.sval in named else v
                                              for v in value))
        for attr in node:
            value = getattr(node, attr)
            if isinstance(value, tuple):
                value = self._qualified_name(value)
                setattr(node, attr, value)
            if isinstance(value, (ast.Node, tuple, list)):
                self._rewrite(value)


def _qualified_of(obj: dict[str, Any]) -> str | None:
    """schema.name of an object that lives in a schema, as its CREATE names it."""
    if obj["kind"] in ("schema", "role", "event_trigger", "owner", "grant", "data"):
        return None
    found = identify(parse_sql(obj["statements"][0])[0].stmt)
    name = (found[3] if found else obj["identity"]).partition("(")[0]
    return name if "." in name else None


def _referenced_roles(statements: list[str]) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif isinstance(node, ast.Node):
            if isinstance(node, ast.RoleSpec) and node.rolename:
                found.add(node.rolename)
            for attr in node:
                walk(getattr(node, attr))

    for text in statements:
        for raw in parse_sql(text):
            walk(raw.stmt)
    return found


# desired fingerprints by (server, desired objects): a fleet of databases on one server
# renders the same SQL once per provider process
_CACHE: OrderedDict[str, Objects] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def make_missing_roles(pg: psycopg.Connection, objects: Objects) -> None:
    """Creates, in the caller's transaction (one rolled back), the roles that the objects'
    grants and owners name and that do not exist yet, nor are objects of their own: the
    ones a deployment creates first (its Role resources)."""
    statements = [s for o in objects.values() if o["kind"] != "role" for s in o["statements"]]
    for role in sorted(_referenced_roles(statements) - Names(objects).roles):
        if pg.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            pg.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))


def _cache_key(pg: psycopg.Connection, objects: Objects) -> str:
    """What the render depends on: the server, the database's encoding, collation and
    default privileges, the SQL. A set that holds none of its schemas refers to objects
    of the database it does not hold: its render is that database's alone."""
    server = pg.execute(
        "SELECT pg_catalog.current_setting('server_version_num'), pg_catalog.current_setting('server_encoding'), "
        "d.datcollate, d.datctype, (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(' ', a.defaclrole::regrole, "
        "a.defaclnamespace::regnamespace, a.defaclobjtype, a.defaclacl), ';' ORDER BY 1) FROM pg_catalog.pg_default_acl a), "
        "CASE WHEN %s THEN pg_catalog.concat_ws(' ', (SELECT c.system_identifier FROM pg_catalog.pg_control_system() c), "
        "d.oid) END FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
        (not any(o["kind"] == "schema" for o in objects.values()),)).fetchone()
    wanted = {k: [o["kind"], o["identity"], list(o["statements"])] for k, o in objects.items()}
    return hashlib.sha256(json.dumps([[str(v) for v in server], wanted], sort_keys=True).encode()).hexdigest()


def desired_fingerprints(pg: psycopg.Connection, objects: Objects, order: Callable[[Objects], list[str]],
                         lock_timeout_ms: int = 5000) -> dict[str, Any]:
    """key -> the fingerprint each object would have if created from its SQL here.

    Runs in a transaction (a savepoint inside one) that is always rolled back; the
    roles that grants and owners name but that do not exist yet are made in it too."""
    key = _cache_key(pg, objects)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    names = Names(objects)
    result: dict[str, Any] = {}
    current, needs = "the scratch schemas", "CREATE on the database"
    try:
        with pg.transaction():
            pg.execute("SELECT pg_catalog.set_config('lock_timeout', %s, true), "
                       "pg_catalog.set_config('check_function_bodies', 'off', true)", (f"{lock_timeout_ms}ms",))
            if pg.execute("SELECT pg_catalog.current_setting('is_superuser')").fetchone()[0] == "on":
                # the live DDL tracker has nothing to record here
                pg.execute("SET LOCAL session_replication_role = replica")
            for schema in sorted(names.scratch_schemas - names.schemas):
                pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(names.scratch(schema))))
            current, needs = "the roles its grants name", "CREATEROLE"
            make_missing_roles(pg, objects)
            scratch: dict[str, tuple[str, list[str]]] = {}
            for k in order(objects):
                obj = objects[k]
                current, needs = k, "CREATEROLE" if obj["kind"] == "role" else "CREATE on the database"
                texts = [names.statement(s) for s in obj["statements"]]
                for text in texts:
                    pg.execute(text)
                scratch[k] = (names.identity(obj["kind"], obj["identity"], texts[0]), texts)
            for k, (identity, texts) in scratch.items():
                current = k
                result[k] = names.restore(catalog.inspect(pg, objects[k]["kind"], identity, texts))
            raise psycopg.Rollback()
    except psycopg.errors.LockNotAvailable as exc:
        raise ScratchError(f"{current}: {describe(exc)} (waited {lock_timeout_ms} ms while rendering its SQL in a "
                           "scratch schema: another session holds a lock it needs; try again)") from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ScratchError(f"{current}: {describe(exc)} (the desired state is rendered in scratch schemas and "
                           f"roles, rolled back: the login needs {needs})") from None
    except psycopg.Error as exc:
        raise ScratchError(f"{current}: its SQL fails on this server: {describe(exc)}") from None
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result
