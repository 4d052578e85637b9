"""One class per kind of database object: how to create, drop and alter it.

`alter` takes the live fingerprint and the desired one (rendered by the server
itself, see scratch.py) and returns the statements that make the one the other,
with the reasons; `Replace` when only a drop and a new create can (the plan then
drops and re-creates what depends on it too); PlanError when that would lose
data. Fingerprints come from catalog/*.sql, so every difference PostgreSQL can
print is seen here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.stream import RawStream
from psycopg import sql

from . import catalog
from .db import ProviderError
from .desired import owner_statement, owner_target
from .sqlsource import fills, identifier

Statement = str | sql.Composable


class PlanError(ProviderError):
    """The change is destructive or unsupported; nothing was applied."""


class Replace(Exception):
    """Only dropping the object and creating it again makes it as desired."""

    def __init__(self, why: list[str]) -> None:
        super().__init__("; ".join(why))
        self.why = why


# Marks a role that script-tracking created: databases on the same server share it
# (one writer and one reader per server), and the last one to let go drops it.
# A role without it existed before and is the user's: it is never dropped.
ROLE_MARKER = "script-tracking: shared by the tracking systems of this server"


def _plain(value: Any) -> Any:
    """A fingerprint's value as it was: numbers crossed the engine as doubles."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _short(value: Any, limit: int = 60) -> str:
    """A value in a plan's words: text as it is, none, or JSON."""
    value = _plain(value)
    text = value if isinstance(value, str) else "none" if value is None else \
        json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def differences(live: dict, want: dict, fields: tuple[str, ...] | None = None) -> list[str]:
    """'field: live -> desired' for each field that differs."""
    keys = fields or tuple(dict.fromkeys((*want, *live)))
    return [f"{k}: {_short(live.get(k))} -> {_short(want.get(k))}" for k in keys if live.get(k) != want.get(k)]


def _split(statements: list[str]) -> tuple[ast.Node, list[str]]:
    """The CREATE statement (parsed) and the statements attached to it that set what
    it has (as text): a table's fill runs at its creation only."""
    return parse_sql(statements[0])[0].stmt, [s for s in statements[1:] if not fills(s)]


class Kind:
    """A kind whose every difference is made by running its statements again."""

    keyword = ""

    def create(self, identity: str, statements: list[str]) -> list[Statement]:
        return list(statements)

    def drop(self, identity: str, statements: list[str], adopted: bool) -> list[Statement]:
        return [sql.SQL("DROP {} IF EXISTS {}").format(sql.SQL(self.keyword), identifier(identity))]

    def alter(self, pg: psycopg.Connection, identity: str, statements: list[str], live: dict,
              want: dict) -> tuple[list[Statement], list[str]]:
        return list(statements), differences(live, want)

    def moved(self, old: list[str], new: list[str]) -> bool:
        """Whether the old SQL made another object than the new one does (which must go)."""
        return False


class Attached(Kind):
    """A kind that is altered by re-running the statements attached to its CREATE
    (COMMENT, GRANT/REVOKE) after taking back what PUBLIC was given by hand; any
    other difference needs a drop and a create."""

    settled = ("public", "comment")  # what the attached statements set

    def revoke_public(self, identity: str) -> Statement:
        on = "TABLE" if self.keyword == "VIEW" else self.keyword
        return sql.SQL("REVOKE ALL ON {} {} FROM PUBLIC").format(sql.SQL(on), identifier(identity))

    def alter(self, pg, identity, statements, live, want):
        other = [k for k in dict.fromkeys((*want, *live)) if k not in self.settled]
        if differences(live, want, tuple(other)):
            self.changed(pg, identity, statements, live, want)
        steps: list[Statement] = [self.revoke_public(identity)] if live.get("public") != want.get("public") else []
        return [*steps, *_split(statements)[1]], differences(live, want, self.settled)

    def changed(self, pg, identity, statements, live, want) -> None:
        raise Replace(differences(live, want, tuple(k for k in want if k not in self.settled)))


class Schema(Attached):
    keyword = "SCHEMA"

    def revoke_public(self, identity):
        return sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(identity))

    def drop(self, identity, statements, adopted):
        # RESTRICT: objects of the user's own in it keep it (the caller keeps the schema then)
        return [sql.SQL("DROP SCHEMA IF EXISTS {} RESTRICT").format(sql.Identifier(identity))]


class Sequence(Attached):
    keyword = "SEQUENCE"

    def changed(self, pg, identity, statements, live, want):
        raise PlanError(f"sequence {identity} differs ({'; '.join(differences(live, want))}): "
                        "changing a sequence in place can reuse numbers; change it back or migrate it by hand")


class Type(Attached):
    keyword = "TYPE"


class Index(Attached):
    keyword = "INDEX"


class View(Attached):
    keyword = "VIEW"

    def changed(self, pg, identity, statements, live, want):
        have, wanted = live.get("columns") or [], want.get("columns") or []
        if wanted[:len(have)] != have:  # CREATE OR REPLACE VIEW only adds columns at the end
            raise Replace(differences(live, want, ("columns", "definition")))

    def alter(self, pg, identity, statements, live, want):
        steps, why = super().alter(pg, identity, statements, live, want)
        if live.get("columns") != want.get("columns") or live.get("definition") != want.get("definition"):
            create = _split(statements)[0]
            create.replace = True
            steps = [RawStream()(create), *steps]
            why = differences(live, want, ("columns", "definition")) + why
        return steps, why


class Function(Attached):
    keyword = "FUNCTION"

    def changed(self, pg, identity, statements, live, want):
        # CREATE OR REPLACE keeps the result type, the argument names and their defaults
        if differences(live, want, ("result", "arguments")):
            raise Replace(differences(live, want, ("result", "arguments", "definition")))

    def alter(self, pg, identity, statements, live, want):
        steps, why = super().alter(pg, identity, statements, live, want)
        if not catalog.same("function", {"definition": live.get("definition")}, {"definition": want.get("definition")}):
            create = _split(statements)[0]
            create.replace = True
            steps = [RawStream()(create), *steps]
            why = [_definition_difference(live.get("definition") or "", want.get("definition") or ""), *why]
        return steps, why


def _definition_difference(live: str, want: str) -> str:
    """The first line of a definition that differs, both ways."""
    a, b = live.splitlines(), want.splitlines()
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"definition line {i + 1}: {_short(x.strip())} -> {_short(y.strip())}"
    return f"definition: {len(a)} lines -> {len(b)} lines"


class EventTrigger(Kind):
    # pg_event_trigger.evtenabled: the words a plan shows, and the ALTER that sets each
    ENABLED = {"O": ("enabled", "ENABLE"), "D": ("disabled", "DISABLE"),
               "R": ("enabled on replicas only", "ENABLE REPLICA"), "A": ("always enabled", "ENABLE ALWAYS")}

    def drop(self, identity, statements, adopted):
        return [sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(sql.Identifier(identity))]

    def alter(self, pg, identity, statements, live, want):
        # the fingerprints keep the catalog's code (recorded in existing stacks); plans say it in words
        why = differences(*({**f, "enabled": self.ENABLED.get(f.get("enabled"), (f.get("enabled"),))[0]}
                            for f in (live, want)))
        if {k for k in (*live, *want) if live.get(k) != want.get(k)} != {"enabled"} \
                or want.get("enabled") not in self.ENABLED:
            raise Replace(why)
        # disabled (or enabled otherwise) by hand: only switched back
        return [sql.SQL("ALTER EVENT TRIGGER {} {}").format(
            sql.Identifier(identity), sql.SQL(self.ENABLED[want["enabled"]][1]))], why


class Role(Kind):
    def create(self, identity, statements):
        return [*statements, sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(identity),
                                                                       sql.Literal(ROLE_MARKER))]

    def drop(self, identity, statements, adopted):
        if adopted:
            return []  # the user's
        # whatever the role was made to own is kept (it passes to the applying user);
        # DROP OWNED then removes its privileges here and on shared objects (REASSIGN and
        # DROP OWNED need the role's privileges: a login that is no superuser gets them by
        # membership, which its CREATEROLE lets it grant and DROP ROLE ends)
        role = sql.Identifier(identity)
        return [sql.SQL("GRANT {} TO CURRENT_USER").format(role),
                sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(role), sql.SQL("DROP OWNED BY {}").format(role),
                sql.SQL("DROP ROLE IF EXISTS {}").format(role)]

    def alter(self, pg, identity, statements, live, want):
        # back to the attributes it was declared with (CREATE ROLE ... -> ALTER ROLE ...)
        create, attached = _split(statements)
        alter_role = ast.AlterRoleStmt(role=ast.RoleSpec(roletype=0, rolename=create.role),
                                       options=create.options, action=1)
        return [RawStream()(alter_role), *attached], differences(live, want)


class Grant(Kind):
    def moved(self, old, new):  # to another role (a renamed or passed-in one)
        return catalog.grant_params(old[0]) != catalog.grant_params(new[0])

    def drop(self, identity, statements, adopted):
        stmt = parse_sql(statements[0])[0].stmt
        stmt.is_grant = False
        return [RawStream()(stmt)]


class Owner(Kind):
    def drop(self, identity, statements, adopted):
        # the object (if it stays) goes back to the login that applies, whatever becomes of the role
        return [owner_statement(*owner_target(identity), None)]


class Data(Kind):
    def drop(self, identity, statements, adopted):
        return [sql.SQL("DELETE FROM {}").format(identifier(identity))]


_NAMED = {"CONSTR_CHECK", "CONSTR_UNIQUE", "CONSTR_PRIMARY", "CONSTR_FOREIGN", "CONSTR_EXCLUSION"}
_TYPMODS = re.compile(r"\(([0-9, ]+)\)")


def _base(type_: str) -> str:
    return _TYPMODS.sub("", type_).strip()


def _widens(pg: psycopg.Connection, old: str, new: str) -> bool:
    """Whether every value of type `old` is a value of type `new`: a larger (or no)
    typmod of the same type, or an implicit cast that is not to a floating point type."""
    if _base(old) == _base(new):
        a, b = _TYPMODS.search(old), _TYPMODS.search(new)
        if b is None:
            return True
        if a is None:
            return False
        x, y = [int(v) for v in a.group(1).split(",")], [int(v) for v in b.group(1).split(",")]
        if len(x) == len(y) == 2:  # numeric(precision, scale): integer digits and scale
            return y[1] >= x[1] and y[0] - y[1] >= x[0] - x[1]
        return len(x) == len(y) and all(q >= p for p, q in zip(x, y))
    if _TYPMODS.search(new):  # a cast to a bounded type (varchar(20)) cuts values
        return False
    return bool(pg.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_cast c WHERE c.castsource = %s::pg_catalog.regtype "
        "AND c.casttarget = %s::pg_catalog.regtype AND c.castcontext = 'i' "
        "AND c.casttarget NOT IN ('pg_catalog.float4'::pg_catalog.regtype, 'pg_catalog.float8'::pg_catalog.regtype))",
        (old, new)).fetchone()[0])


def _holds_data(pg: psycopg.Connection, table: sql.Composable, column: str) -> bool:
    return pg.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} IS NOT NULL)").format(
        table, sql.Identifier(column))).fetchone()[0]


class Table(Attached):
    keyword = "TABLE"

    @staticmethod
    def retypes(live: dict, want: dict) -> bool:
        """Whether a column both have changes its type."""
        have = {c[0]: c[1] for c in live.get("columns") or ()}
        return any(c[0] in have and have[c[0]] != c[1] for c in want.get("columns") or ())

    def alter(self, pg, identity, statements, live, want):
        create, attached = _split(statements)
        table = identifier(identity)
        steps: list[Statement] = []
        why: list[str] = []

        def alter(fmt: str, *args) -> None:
            steps.append(sql.SQL("ALTER TABLE {} " + fmt).format(table, *args))

        have = {c[0]: c for c in live.get("columns") or ()}      # name, type, not null, default
        wanted = {c[0]: c for c in want.get("columns") or ()}
        have_cons = dict(map(tuple, live.get("constraints") or ()))
        want_cons = dict(map(tuple, want.get("constraints") or ()))
        # constraints that go or change go first, so that columns can change under them
        for name in sorted(have_cons):
            if have_cons[name] != want_cons.get(name):
                alter("DROP CONSTRAINT {}", sql.Identifier(name))
                why.append(f"constraint {name}: {_short(have_cons[name])} -> {_short(want_cons.get(name))}")
        defs = {e.colname: e for e in create.tableElts or () if isinstance(e, ast.ColumnDef)}
        for name, (_, type_, notnull, default) in wanted.items():
            column = sql.Identifier(name)
            if name not in have:
                col = defs[name]
                bare = ast.ColumnDef(colname=col.colname, typeName=col.typeName, constraints=tuple(
                    c for c in col.constraints or () if c.contype.name not in _NAMED))
                alter("ADD COLUMN {}", sql.SQL(RawStream()(bare)))
                why.append(f"column {name}: added ({type_})")
                continue
            _, live_type, live_nn, live_def = have[name]
            if live_type != type_:
                if not _widens(pg, live_type, type_) and _holds_data(pg, table, name):
                    raise PlanError(f"column {identity}.{name} would change from {live_type} to {type_}: "
                                    "its values may not fit (a narrowing); migrate the data first")
                if live_def is not None:
                    alter("ALTER COLUMN {} DROP DEFAULT", column)
                    live_def = None
                alter("ALTER COLUMN {} TYPE {} USING {}::{}", column, sql.SQL(type_), column, sql.SQL(type_))
                why.append(f"column {name}: type {live_type} -> {type_}")
            if live_nn != notnull:
                alter("ALTER COLUMN {} " + ("SET" if notnull else "DROP") + " NOT NULL", column)
                why.append(f"column {name}: {'NOT NULL' if notnull else 'NULL'}")
            if live_def != default:
                if default is None:
                    alter("ALTER COLUMN {} DROP DEFAULT", column)
                else:
                    alter("ALTER COLUMN {} SET DEFAULT {}", column, sql.SQL(default))
                why.append(f"column {name}: default {_short(live_def)} -> {_short(default)}")
        for name in have:
            if name in wanted:
                continue
            if _holds_data(pg, table, name):
                raise PlanError(f"refusing to drop column {identity}.{name}: it holds data "
                                "(remove the data first, or keep the column)")
            alter("DROP COLUMN {}", sql.Identifier(name))
            why.append(f"column {name}: dropped (it holds no data)")
        for name, definition in sorted(want_cons.items()):
            if have_cons.get(name) != definition:
                alter("ADD CONSTRAINT {} {}", sql.Identifier(name), sql.SQL(definition))
                if name not in have_cons:
                    why.append(f"constraint {name}: added {_short(definition)}")
        if live.get("public") != want.get("public"):
            steps.append(self.revoke_public(identity))
        why += differences(live, want, self.settled)
        if why and any(live.get(k) != want.get(k) for k in self.settled):
            steps += attached
        return steps, why


KINDS: dict[str, Kind] = {
    "schema": Schema(), "role": Role(), "type": Type(), "sequence": Sequence(), "table": Table(),
    "index": Index(), "function": Function(), "view": View(), "owner": Owner(), "grant": Grant(),
    "data": Data(), "event_trigger": EventTrigger(),
}


def superuser_owner(pg: psycopg.Connection, identity: str, statement: str) -> None:
    """Refuse making a superuser the owner: the definer functions would run as one."""
    role = catalog.owner_params(identity, statement)["role"]
    if pg.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = %s", (role,)).fetchone() == (True,):
        raise PlanError(f"refusing to make {role} the owner of {owner_target(identity)[1]}: it is a superuser, "
                        "and the definer functions would run as one (use a role that is not)")
