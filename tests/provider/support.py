"""Helpers for the provider suite: connection props, the provider driven the way
the Pulumi engine drives it, and SQL rewriting that must not count as a change.

Nothing here is a test; the fixtures that use it are in conftest.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pglast.parser import scan

from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from script_tracking.catalog import grant_params
from script_tracking.desired import Settings, desired_objects
from script_tracking.provider import MISSING, ObjectSetProvider
from script_tracking.sqlsource import DbObject, object_key

Key = tuple[str, str]  # (kind, identity): a table and its filter rows share an identity


def connection(pg, database: str, *, username: str = "postgres", password: str | None = None,
               **extra: Any) -> dict[str, Any]:
    """The `connection` input exactly as ScriptTracking shapes it (tracking.check_connection)."""
    return {"host": "127.0.0.1", "port": pg.port, "database": database, "username": username,
            "password": pg.password if password is None else password, "sslmode": "disable", **extra}


class ObjectProvider:
    """The provider driven one object at a time: each call passes a set of one
    object and answers with that object's outputs (applied, fingerprint =
    the live state `read` found, adopted), so a test speaks of one object."""

    def __init__(self) -> None:
        self.sets = ObjectSetProvider()

    @staticmethod
    def _key(p: dict[str, Any]) -> str:
        return object_key(p.get("kind"), p["identity"])

    def wrap(self, p: dict[str, Any]) -> dict[str, Any]:
        k = self._key(p)
        out = {"objects": {k: {"kind": p.get("kind"), "identity": p.get("identity"),
                               "statements": p.get("statements"), "dependsOn": []}},
               "connection": p.get("connection"), "preflight": bool(p.get("preflight"))}
        if "plan" in p:
            out["plan"] = p["plan"]
        if p.get("applied") is not None:
            out["applied"] = {k: p["applied"]}
            out["adopted"] = [k] if p.get("adopted") else []
            fp = p.get("fingerprint")
            out["drift"] = {} if fp == p["applied"] else {k: MISSING if fp is None else fp}
            out["retained"] = {}
        return out

    def unwrap(self, p: dict[str, Any], outs: dict[str, Any]) -> dict[str, Any]:
        k = self._key(p)
        applied = outs["applied"][k]
        live = outs.get("drift", {}).get(k, applied)
        return {"kind": p["kind"], "identity": p["identity"], "statements": p["statements"],
                "connection": outs["connection"], "applied": applied,
                "fingerprint": None if live == MISSING else live, "adopted": k in outs["adopted"]}

    def check(self, olds: dict, news: dict):
        return self.sets.check(self.wrap(olds) if olds else {}, self.wrap(news))

    def create(self, p: dict[str, Any]) -> CreateResult:
        return CreateResult(p["identity"], self.unwrap(p, self.sets.create(self.wrap(p)).outs))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self.unwrap(news, self.sets.update(id_, self.wrap(olds), self.wrap(news)).outs))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        return self.sets.diff(id_, self.wrap(olds), self.wrap(news))

    def delete(self, id_: str, p: dict[str, Any]) -> None:
        self.sets.delete(id_, self.wrap(p))

    def read(self, id_: str, p: dict[str, Any]) -> ReadResult:
        r = self.sets.read(id_, self.wrap(p))
        return ReadResult(None, {}) if r.id is None else ReadResult(id_, self.unwrap(p, r.outs))


def objects_input(objects: Iterable[DbObject]) -> dict[str, dict[str, Any]]:
    """DbObjects as the provider's `objects` input of one set: key -> {kind, identity, ...}."""
    return {o.key: {"kind": o.kind, "identity": o.identity, "statements": list(o.statements),
                    "dependsOn": list(o.depends_on)} for o in objects}


def props(obj: DbObject, conn: dict[str, Any]) -> dict[str, Any]:
    """The inputs the engine hands the provider for one object (check's output)."""
    return {"kind": obj.kind, "identity": obj.identity, "statements": list(obj.statements),
            "connection": conn, "applied": None, "fingerprint": None}


def key(obj: DbObject) -> Key:
    return (obj.kind, obj.identity)


@dataclass
class Stack:
    """A stack's state for one database: what the engine would keep between steps."""

    conn: dict[str, Any]
    objects: list[DbObject]
    provider: ObjectProvider = field(default_factory=ObjectProvider)
    outs: dict[Key, dict[str, Any]] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)

    @classmethod
    def for_settings(cls, conn: dict[str, Any], settings: Settings) -> "Stack":
        return cls(conn, desired_objects(settings), settings=settings)

    def role(self, slot: str) -> str:
        """The name of the owner, writer or reader role."""
        return self.settings.role(slot)

    def obj(self, identity: str, kind: str | None = None) -> DbObject:
        found = [o for o in self.objects if o.identity == identity and (kind is None or o.kind == kind)]
        if kind is None and len(found) > 1:  # the filter table, not its rows
            found = [o for o in found if o.kind != "data"]
        assert len(found) == 1, f"{identity!r} ({kind}) matches {len(found)} objects"
        return found[0]

    def inputs(self, obj: DbObject) -> dict[str, Any]:
        return props(obj, self.conn)

    def closure(self, identities: Iterable[str]) -> list[DbObject]:
        """The objects named and everything they depend on, in creation order."""
        want: set[Key] = set()
        todo = [self.obj(i) for i in identities]
        while todo:
            o = todo.pop()
            if key(o) in want:
                continue
            want.add(key(o))
            todo += [self.obj(d) for d in o.depends_on]
            if o.kind == "grant":  # and the role it grants to (a resource of its own in a stack)
                todo.append(self.obj(grant_params(o.statements[0])["role"], "role"))
        return [o for o in self.objects if key(o) in want]

    def create(self, obj: DbObject) -> dict[str, Any]:
        inputs = self.inputs(obj)
        result = self.provider.create(inputs)
        assert result.id == obj.identity
        self.outs[key(obj)] = result.outs
        return result.outs

    def install(self, identities: Iterable[str] | None = None) -> list[DbObject]:
        objs = self.objects if identities is None else self.closure(identities)
        for o in objs:
            self.create(o)
        return objs

    def read(self, obj: DbObject):
        return self.provider.read(obj.identity, self.outs[key(obj)])

    def diff(self, obj: DbObject, news: DbObject | None = None, olds: dict | None = None):
        return self.provider.diff(obj.identity, olds if olds is not None else self.outs[key(obj)],
                                  self.inputs(news or obj))

    def update(self, obj: DbObject, news: DbObject, olds: dict | None = None) -> dict[str, Any]:
        result = self.provider.update(obj.identity, olds if olds is not None else self.outs[key(obj)],
                                      self.inputs(news))
        self.outs[key(news)] = result.outs
        return result.outs

    def delete(self, obj: DbObject, outs: dict | None = None) -> None:
        self.provider.delete(obj.identity, outs if outs is not None else self.outs[key(obj)])


def with_statements(obj: DbObject, statements: Iterable[str]) -> DbObject:
    return DbObject(obj.kind, obj.identity, obj.schema, obj.name, tuple(statements), obj.depends_on)


# ---------------------------------------------------------------- rewriting SQL

def rewrite(text: str, *, gap: Callable[[str], str] = lambda g: g,
            word: Callable[[Any, str], str] = lambda t, w: w,
            body: Callable[[str], str] | None = None) -> str:
    """Rebuild `text` token by token (pglast's scanner): `gap` rewrites the text
    between tokens, `word` each token, `body` the inside of dollar-quoted strings
    (function bodies). String literals are never touched otherwise."""
    toks = scan(text)
    out, pos = [], 0
    for t in toks:
        out.append(gap(text[pos:t.start]))
        w = text[t.start:t.end + 1]
        if t.name == "SCONST" and w.startswith("$"):
            if body is not None:
                tag = w[:w.index("$", 1) + 1]
                w = tag + body(w[len(tag):len(w) - len(tag)]) + tag
        elif t.name != "SCONST":
            w = word(t, w)
        out.append(w)
        pos = t.end + 1
    out.append(gap(text[pos:]))
    return "".join(out)


def _flip(t, w: str) -> str:
    if t.kind != "NO_KEYWORD" or (t.name == "IDENT" and not w.startswith('"')):
        return w.swapcase()
    return w


def _spread(g: str) -> str:
    if not g or g.strip():
        return g
    return g.replace("\n", "\n\n\t ") if "\n" in g else g + "  "


def _comment(g: str) -> str:
    if g and not g.strip() and "\n" in g:
        return " -- a comment that means nothing\n" + g.lstrip(" \t") .replace("\n", "", 1) + "/* and another */ "
    return g


def flip_case(text: str, *, into_bodies: bool = True) -> str:
    """Swap the case of every keyword and unquoted identifier (inside bodies too)."""
    inner = (lambda b: rewrite(b, word=_flip)) if into_bodies else None
    return rewrite(text, word=_flip, body=inner)


def respace(text: str, *, into_bodies: bool = True) -> str:
    """More blank lines, tabs and spaces between tokens (inside bodies too)."""
    inner = (lambda b: rewrite(b, gap=_spread)) if into_bodies else None
    return rewrite(text, gap=_spread, body=inner)


def add_comments(text: str, *, into_bodies: bool) -> str:
    """A -- comment at every line end and a /* */ comment on every next line."""
    inner = (lambda b: rewrite(b, gap=_comment)) if into_bodies else None
    return rewrite(text, gap=_comment, body=inner)


def changed_body(text: str) -> str:
    """The same function doing something else: PL/pgSQL gets one more statement
    after its first BEGIN, SQL functions a LIMIT."""
    def body(b: str) -> str:
        if re.search(r"\bBEGIN\b", b, re.I):
            return re.sub(r"\bBEGIN\b", "BEGIN\n    PERFORM 1;", b, count=1, flags=re.I)
        return b.rstrip().rstrip(";") + " LIMIT 1\n"
    return rewrite(text, body=body)


def reformatted(obj: DbObject, *, body_comments: bool = False) -> DbObject:
    """The same object written differently: formatting, comments and keyword case.
    The first statement loses its CREATE-only form (CREATE OR REPLACE is the same)."""
    stmts = []
    for s in obj.statements:
        s = add_comments(respace(flip_case(s)), into_bodies=body_comments)
        stmts.append(s)
    first = stmts[0]
    if obj.kind in ("function", "view"):
        first = re.sub(r"^create\b", "create or replace", first, count=1, flags=re.I)
    return with_statements(obj, [first, *stmts[1:]])


# ---------------------------------------------------------------- changing a CREATE TABLE

def table_variant(text: str, *, drop: Iterable[str] = (), add: Iterable[str] = (),
                  retype: dict[str, str] | None = None) -> str:
    """A CREATE TABLE statement with columns dropped, added (column definitions)
    or given another type, rendered by pglast."""
    from pglast import ast, parse_sql
    from pglast.stream import RawStream

    stmt = parse_sql(text)[0].stmt
    assert isinstance(stmt, ast.CreateStmt)
    drop, retype = set(drop), dict(retype or {})
    elts = []
    for e in stmt.tableElts:
        if isinstance(e, ast.ColumnDef) and e.colname in drop:
            drop.discard(e.colname)
            continue
        if isinstance(e, ast.ColumnDef) and e.colname in retype:
            e.typeName = parse_sql(f"SELECT NULL::{retype.pop(e.colname)}")[0].stmt \
                .targetList[0].val.typeName
        elts.append(e)
    assert not drop and not retype, f"no such columns: {drop or retype}"
    for definition in add:
        elts.append(parse_sql(f"CREATE TABLE x ({definition})")[0].stmt.tableElts[0])
    stmt.tableElts = tuple(elts)
    return RawStream()(stmt)


# The provider reads the catalog with search_path = pg_catalog (script_tracking.db), so
# that its text does not depend on a role's settings; compare like with like.
CATALOG_OPTIONS = "-c search_path=pg_catalog"
