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
from ..sqlsource import attached_to  # the same identity rules as the sources

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


def inspect(pg: psycopg.Connection, kind: str, identity: str, statements: list[str]) -> Any | None:
    """The live fingerprint of an object, or None if it does not exist."""
    if kind == "grant":
        row = pg.execute(query("grant"), grant_params(statements[0])).fetchone()
    elif kind == "owner":
        row = pg.execute(query("owner"), owner_params(identity, statements[0])).fetchone()
    elif kind == "data":
        schema, _, name = identity.partition(".")
        if pg.execute("SELECT pg_catalog.to_regclass(%s)", (identity,)).fetchone()[0] is None:
            return None
        row = pg.execute(sql.SQL(query("data")).format(table=sql.Identifier(schema, name))).fetchone()
    else:
        row = pg.execute(query(kind), {"identity": identity}).fetchone()
    return None if row is None else as_stored(row[0])


# Fingerprints an earlier release recorded (a stack's state keeps them) in this release's
# form: keys it no longer reads are left out (a schema's owner: now an object of its own),
# and definitions it keeps as digests (functions' and views': most of the state) digested.
RETIRED = {"schema": ("owner",)}
DIGESTED = {"function": "definition", "view": "definition"}


def current_form(kind: str, recorded: Any | None) -> Any | None:
    if not isinstance(recorded, dict):
        return recorded
    out = {k: v for k, v in recorded.items() if k not in RETIRED.get(kind, ())}
    text = out.pop(DIGESTED.get(kind, ""), None)
    if text is not None:
        out[f"{DIGESTED[kind]}_md5"] = hashlib.md5(text.encode()).hexdigest()
    return out


def drifted(kind: str, live: Any | None, applied: Any | None) -> bool:
    """Whether the live fingerprint differs from the one recorded at apply time."""
    return live != current_form(kind, applied)


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
