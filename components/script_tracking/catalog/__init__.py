"""Read the live state of one object from the PostgreSQL catalog.

One query per kind, each in a .sql file next to this module. The result is a
small JSON document (the object's fingerprint) or None when the object does not
exist; comparing it with the one recorded at apply time is how drift is found.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast, parse_sql
from psycopg import sql

from ..desired import owner_target
from ..sqlsource import attached_to, normalize  # the same identity and layout rules as the sources

HERE = Path(__file__).resolve().parent


@cache
def query(kind: str) -> str:
    return (HERE / f"{kind}.sql").read_text()


def grant_params(statement: str) -> dict[str, str]:
    """privilege, object kind, target and role of a one-object, one-role GRANT."""

    stmt = parse_sql(statement)[0].stmt
    if not isinstance(stmt, ast.GrantStmt) or len(stmt.privileges or ()) != 1 or len(stmt.grantees) != 1:
        raise ValueError(f"a grant object must be one GRANT of one privilege to one role: {statement}")
    on = {"OBJECT_SCHEMA": "schema", "OBJECT_FUNCTION": "function", "OBJECT_TABLE": "table",
          "OBJECT_SEQUENCE": "sequence"}[stmt.objtype.name]
    return {
        "privilege": stmt.privileges[0].priv_name,
        "on": on,
        "target": attached_to(stmt)[0],
        "role": stmt.grantees[0].rolename,
    }


def owner_params(identity: str, statement: str) -> dict[str, str]:
    """object kind, target and new owner of an owner object (desired._owner)."""
    stmt = parse_sql(statement)[0].stmt
    # ALTER TABLE/SEQUENCE/VIEW carry it as a subcommand, the others directly
    owner = stmt.newowner if isinstance(stmt, ast.AlterOwnerStmt) else stmt.cmds[0].newowner
    on, target = owner_target(identity)
    return {"on": on, "target": target, "role": owner.rolename}


def _query(kind: str, identity: str, statements: list[str]) -> tuple[str, dict[str, str]]:
    """The catalog query of an object of any kind but data, and its parameters."""
    if kind == "grant":
        return query("grant"), grant_params(statements[0])
    if kind == "owner":
        return query("owner"), owner_params(identity, statements[0])
    if kind in ("table", "view", "sequence", "index") and "(" in identity:
        # no relation has a signature (and before PostgreSQL 16, to_regclass raises on one)
        return "SELECT NULL::pg_catalog.json WHERE false", {}
    return query(kind), {"identity": identity}


def inspect_all(pg: psycopg.Connection, objects: dict[str, dict]) -> dict[str, Any | None]:
    """key -> live fingerprint of every object, the queries sent in one pipeline (a
    round trip for the set, not one per object)."""
    found = {k: inspect(pg, o["kind"], o["identity"], o["statements"]) for k, o in objects.items()
             if o["kind"] == "data"}
    with pg.pipeline():
        cursors = {k: pg.execute(*_query(o["kind"], o["identity"], o["statements"]))
                   for k, o in objects.items() if o["kind"] != "data"}
    for k, cur in cursors.items():
        row = cur.fetchone()
        found[k] = None if row is None else as_stored(row[0])
    return {k: found[k] for k in objects}


def inspect(pg: psycopg.Connection, kind: str, identity: str, statements: list[str]) -> Any | None:
    """The live fingerprint of an object, or None if it does not exist."""
    if kind == "data":
        schema, _, name = identity.partition(".")
        if pg.execute("SELECT pg_catalog.to_regclass(%s)", (identity,)).fetchone()[0] is None:
            return None
        inserts = [s for s in map(lambda text: parse_sql(text)[0].stmt, statements) if isinstance(s, ast.InsertStmt)]
        columns = [c.name for s in inserts[:1] for c in s.cols or ()]
        row = pg.execute(sql.SQL(query("data")).format(
            table=sql.Identifier(schema, name),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)) if columns else sql.SQL("NULL"))).fetchone()
    else:
        row = pg.execute(*_query(kind, identity, statements)).fetchone()
    return None if row is None else as_stored(row[0])


# Fingerprints as the state keeps them (`recorded`): definitions and comments (most of
# the state) as digests, marked with the form they are in. Those an earlier
# release recorded are read in this form (`current_form`): keys it no longer reads are
# left out (a schema's owner: now an object of its own), table columns are compared by
# name, and keys it did not read yet do not count as drift.
FORM = 3
RETIRED = {"schema": ("owner",)}
DIGESTED = {"function": ("definition", "comment"), "view": ("definition", "comment"), "table": ("comment",),
            "sequence": ("comment",), "schema": ("comment",), "index": ("comment",), "type": ("comment",)}
ADDED = {"function": ("result", "arguments"), "view": ("columns", "comment"), "table": ("comment",),
         "sequence": ("comment",), "schema": ("comment",), "index": ("comment",), "type": ("comment",)}


def current_form(kind: str, recorded: Any | None) -> Any | None:
    if not isinstance(recorded, dict):
        return recorded
    out = {k: v for k, v in recorded.items() if k not in RETIRED.get(kind, ())}
    if out.get("v") not in (FORM, float(FORM)):
        if kind == "table":
            out["columns"] = sorted(out.get("columns") or (), key=lambda c: c[0])
            out["constraints"] = [c for c in out.get("constraints") or () if not c[1].startswith("NOT NULL")]
        out = {k: v for k, v in out.items() if k not in ADDED.get(kind, ())}
    for key in DIGESTED.get(kind, ()):
        text = out.pop(key, None)
        if text is not None:
            out[f"{key}_md5"] = hashlib.md5(text.encode()).hexdigest()
    out.pop("v", None)
    return out


def recorded(kind: str, live: Any | None) -> Any | None:
    """A live fingerprint as the state keeps it (see current_form)."""
    if not isinstance(live, dict):
        return live
    return {**current_form(kind, {**live, "v": FORM}), "v": float(FORM)}


def drifted(kind: str, live: Any | None, applied: Any | None) -> bool:
    """Whether the live fingerprint differs from the one recorded at apply time."""
    if isinstance(live, dict):
        live = {**live, "v": (applied or {}).get("v") if isinstance(applied, dict) else FORM}
    return current_form(kind, live) != current_form(kind, applied)


def same(kind: str, live: Any | None, want: Any | None) -> bool:
    """Whether two fingerprints of the same server mean the same object: exact, except
    that a function's body counts as its tokens (layout and comments in it are no change)."""
    if live == want:
        return True
    if kind == "function" and isinstance(live, dict) and isinstance(want, dict):
        return {**live, "definition": _tokens(live.get("definition"))} == \
            {**want, "definition": _tokens(want.get("definition"))}
    return live == want


def _tokens(definition: str | None) -> str | None:
    return normalize(definition) if definition else definition


def dependents(pg: psycopg.Connection, kind: str, identity: str) -> list[dict[str, str]]:
    """What depends on an object: [{kind (view, event_trigger or null), identity, description}]."""
    return pg.execute(query("dependents"), {"kind": kind, "identity": identity}).fetchone()[0]


def as_stored(value: Any) -> Any:
    """A fingerprint as the Pulumi state gives it back, so that one read now equals
    one recorded then: numbers are doubles there (a sequence's max
    9223372036854775807 comes back as 9.223372036854776e18), and an object's keys
    whose value is null are left out."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [as_stored(v) for v in value]
    return value


def role_in_use_elsewhere(pg: psycopg.Connection, role: str) -> bool:
    """Whether another database (or a shared object) still depends on the role."""
    return bool(pg.execute(query("role_in_use"), {"identity": role}).fetchone()[0])


def role_is_marked(pg: psycopg.Connection, role: str, marker: str) -> bool:
    """Whether an existing role carries `marker` as its comment (see plan.ROLE_MARKER)."""
    row = pg.execute(query("role_is_ours"), {"identity": role, "marker": marker}).fetchone()
    return bool(row and row[0])


def database_identity(pg: psycopg.Connection) -> dict[str, Any]:
    """Which database this is (system identifier and OID), not how it was reached."""
    return as_stored(pg.execute(query("database")).fetchone()[0])
