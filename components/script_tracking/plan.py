"""Plans: the statements that take one object from its live state to the desired one.

`plan()` is pure apart from reading the catalog: the provider calls it at
preview (diff) to refuse destructive changes before anything runs, and again at
apply inside the locked transaction, where it is executed. Tables are migrated
additively (ADD COLUMN, ADD CONSTRAINT); dropping a column that holds data or
changing a column's definition is refused with a message that says why.
"""

from __future__ import annotations

from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.stream import RawStream
from psycopg import sql

from . import catalog
from .db import ProviderError
from .desired import owner_statement, owner_target
from .sqlsource import identifier, same_sql

Statement = str | sql.Composable


class PlanError(ProviderError):
    """The change is destructive or unsupported; nothing was applied."""


# Marks a role that script-tracking created: databases on the same server share it
# (one writer and one reader per server), and the last one to let go drops it.
# A role without it existed before and is the user's: it is never dropped.
ROLE_MARKER = "script-tracking: shared by the tracking systems of this server"


def drop_statements(kind: str, identity: str, statements: list[str], adopted: bool = False) -> list[Statement]:
    """How to remove an object that exists (the caller checks that it does).

    `adopted` objects existed before the stack created them: an adopted role
    stays (it is the user's), an adopted schema is dropped only if it is empty
    (the objects of ours in it are dropped before it; the caller keeps it when
    the user's own objects are left). A role of ours is dropped whole; the
    caller does so only when no other database uses it.
    """
    if adopted and kind == "role":
        return []
    if adopted and kind == "schema":
        return [sql.SQL("DROP SCHEMA IF EXISTS {} RESTRICT").format(sql.Identifier(identity))]
    if kind == "function":
        return [sql.SQL("DROP FUNCTION IF EXISTS {}").format(identifier(identity))]
    if kind == "event_trigger":
        return [sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(sql.Identifier(identity))]
    if kind == "schema":
        # destroy is the complete rollback: whatever is left in our schemas goes too
        return [sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(identity))]
    if kind == "role":
        # whatever the role was made to own is kept (it passes to the applying user);
        # DROP OWNED then removes its privileges here and on shared objects
        # (REASSIGN and DROP OWNED need the role's privileges: a login that is no superuser
        # gets them by membership, which its CREATEROLE lets it grant and DROP ROLE ends)
        role = sql.Identifier(identity)
        return [sql.SQL("GRANT {} TO CURRENT_USER").format(role),
                sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(role), sql.SQL("DROP OWNED BY {}").format(role),
                sql.SQL("DROP ROLE IF EXISTS {}").format(role)]
    if kind == "grant":
        stmt = parse_sql(statements[0])[0].stmt
        stmt.is_grant = False
        return [RawStream()(stmt)]
    if kind == "data":
        return [sql.SQL("DELETE FROM {}").format(identifier(identity))]
    if kind == "owner":
        # the object (if it stays) goes back to the login that applies, whatever becomes of the role
        return [owner_statement(*owner_target(identity), None)]
    keyword = {"table": "TABLE", "sequence": "SEQUENCE", "index": "INDEX", "view": "VIEW", "type": "TYPE"}[kind]
    return [sql.SQL("DROP {} IF EXISTS {}").format(sql.SQL(keyword), identifier(identity))]


def _revoke_public(kind: str, identity: str, drifted: bool) -> list[Statement]:
    """Our schemas and sequences grant PUBLIC nothing; undo a grant made by hand.
    (Functions and tables carry their own REVOKE ... FROM PUBLIC in sql/.)"""
    if not drifted:
        return []
    target = sql.Identifier(identity) if kind == "schema" else identifier(identity)
    return [sql.SQL("REVOKE ALL ON {} {} FROM PUBLIC").format(sql.SQL(kind.upper()), target)]


def _is_create(stmt: ast.Node) -> bool:
    return isinstance(stmt, (ast.CreateStmt, ast.CreateSeqStmt, ast.CreateFunctionStmt, ast.ViewStmt,
                             ast.IndexStmt, ast.CreateEventTrigStmt, ast.CompositeTypeStmt,
                             ast.CreateEnumStmt, ast.CreateSchemaStmt, ast.CreateRoleStmt))


def _split(statements: list[str]) -> tuple[ast.Node | None, list[str]]:
    """The CREATE statement (parsed) and the statements attached to it (as text)."""
    create, rest = None, []
    for text in statements:
        stmt = parse_sql(text)[0].stmt
        if create is None and _is_create(stmt):
            create = stmt
        else:
            rest.append(text)
    return create, rest


def _or_replace(stmt: ast.Node) -> str:
    stmt.replace = True
    return RawStream()(stmt)


_NAMED = {"CONSTR_CHECK", "CONSTR_UNIQUE", "CONSTR_PRIMARY", "CONSTR_FOREIGN", "CONSTR_EXCLUSION"}


def _column_parts(col: ast.ColumnDef) -> tuple[str, bool, str | None]:
    """A column's type, NOT NULL and DEFAULT: what ALTER COLUMN can change in place."""
    notnull = any(c.contype.name == "CONSTR_NOTNULL" for c in col.constraints or ())
    default = next((RawStream()(c.raw_expr) for c in col.constraints or ()
                    if c.contype.name == "CONSTR_DEFAULT"), None)
    other = [RawStream()(c) for c in col.constraints or ()
             if c.contype.name not in _NAMED | {"CONSTR_NOTNULL", "CONSTR_DEFAULT", "CONSTR_NULL"}]
    return RawStream()(col.typeName) + "".join(f" {o}" for o in other), notnull, default


def _columns(create: ast.CreateStmt) -> dict[str, ast.ColumnDef]:
    return {e.colname: e for e in create.tableElts or () if isinstance(e, ast.ColumnDef)}


def _constraints(create: ast.CreateStmt) -> dict[str, str]:
    """Every named constraint, column-level ones rewritten in table-level form."""
    out = {}
    for e in create.tableElts or ():
        if isinstance(e, ast.Constraint):
            found = [e]
        elif isinstance(e, ast.ColumnDef):
            found = []
            for c in e.constraints or ():
                if c.contype.name not in _NAMED:
                    continue
                if c.contype.name in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
                    c.keys = (ast.String(sval=e.colname),)
                elif c.contype.name == "CONSTR_FOREIGN":
                    c.fk_attrs = (ast.String(sval=e.colname),)
                found.append(c)
        else:
            continue
        for c in found:
            if not c.conname:
                raise PlanError(f"constraints must be named to be migrated: {RawStream()(c)}")
            out[c.conname] = RawStream()(c)
    return out


def _table_plan(pg: psycopg.Connection, identity: str, old: ast.CreateStmt | None, new: ast.CreateStmt,
                live: dict[str, Any], applied: dict[str, Any] | None) -> list[Statement]:
    table = identifier(identity)
    live_cols = {c[0]: c for c in live.get("columns") or ()}      # name, type, not null, default
    applied_cols = {c[0]: c for c in (applied or {}).get("columns") or ()}
    live_constraints = {c[0] for c in live.get("constraints") or ()}
    want, had = _columns(new), (_columns(old) if old is not None else {})
    want_cons, had_cons = _constraints(new), (_constraints(old) if old is not None else {})
    steps: list[Statement] = []

    def alter(fmt: str, *args) -> None:
        steps.append(sql.SQL("ALTER TABLE {} " + fmt).format(table, *args))

    # an adopted table (no SQL applied before): its named constraints that sql/ does not
    # declare are an earlier release's (NOT NULL ones, PostgreSQL 18's, follow the columns)
    undeclared = {c[0] for c in live.get("constraints") or ()
                  if c[0] not in want_cons and not c[1].startswith("NOT NULL")} if old is None else set()
    # constraints that go or change are dropped first, so columns can change under them
    for name in sorted(live_constraints & set(had_cons) | undeclared):
        if name not in want_cons or want_cons[name] != had_cons[name]:
            alter("DROP CONSTRAINT {}", sql.Identifier(name))
    for name, col in want.items():
        if name not in live_cols:
            bare = ast.ColumnDef(colname=col.colname, typeName=col.typeName, constraints=tuple(
                c for c in col.constraints or () if c.contype.name not in _NAMED))
            alter("ADD COLUMN {}", sql.SQL(RawStream()(bare)))
            continue
        new_type, new_nn, new_def = _column_parts(col)
        old_type, old_nn, old_def = _column_parts(had[name]) if name in had else (new_type, new_nn, new_def)
        live_type, live_nn, live_def = live_cols[name][1:4]
        was = applied_cols.get(name)  # catalog form at the last apply: drift is live != was
        if old_type != new_type:
            raise PlanError(f"column {identity}.{name} would change from `{old_type}` to `{new_type}`: "
                            "changing a column's type in place can lose data; write a migration for it")
        if was is not None and was[1] != live_type:
            raise PlanError(f"column {identity}.{name} was changed by hand from {was[1]} to {live_type}: "
                            "change it back by hand (a type change can lose data)")
        column = sql.Identifier(name)
        # NOT NULL: as the SQL now says if it changed, else as applied if changed by hand
        # (primary keys and identities imply NOT NULL, so the SQL alone cannot be compared)
        target_nn = new_nn if old_nn != new_nn else (was[2] if was is not None else live_nn)
        if live_nn != target_nn:
            alter("ALTER COLUMN {} " + ("SET" if target_nn else "DROP") + " NOT NULL", column)
        # defaults: the catalog prints them its own way, so compare like with like
        default_drifted = was is not None and was[3] != live_def
        if old_def != new_def or default_drifted:
            if new_def is None:
                alter("ALTER COLUMN {} DROP DEFAULT", column)
            else:
                alter("ALTER COLUMN {} SET DEFAULT {}", column, sql.SQL(new_def))
    for name in live_cols:
        if name in want:
            continue
        holds_data = pg.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} IS NOT NULL)").format(
            table, sql.Identifier(name))).fetchone()[0]
        if holds_data:
            raise PlanError(f"refusing to drop column {identity}.{name}: it holds data "
                            "(remove the data first, or keep the column)")
        alter("DROP COLUMN {}", sql.Identifier(name))
    live_cons = {c[0]: c[1] for c in live.get("constraints") or ()}
    applied_cons = {c[0]: c[1] for c in (applied or {}).get("constraints") or ()}
    for name, definition in want_cons.items():
        redefined_by_hand = name in applied_cons and live_cons.get(name) not in (None, applied_cons[name])
        if redefined_by_hand and had_cons.get(name, definition) == definition:
            alter("DROP CONSTRAINT {}", sql.Identifier(name))
        if name not in live_constraints or had_cons.get(name, definition) != definition or redefined_by_hand:
            alter("ADD {}", sql.SQL(definition))
    return steps


def plan(pg: psycopg.Connection, kind: str, identity: str, old: list[str] | None, new: list[str],
         live: Any | None, applied: Any | None = None) -> list[Statement]:
    """Statements that make the live object match `new`.

    `old` is the SQL last applied (None on create) and `applied` the catalog
    fingerprint recorded then; `live` is the fingerprint now (None when the
    object does not exist). Where live and applied differ, the object drifted.
    """
    if kind == "owner":
        role = catalog.owner_params(identity, new[0])["role"]
        if pg.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = %s", (role,)).fetchone() == (True,):
            raise PlanError(f"refusing to make {role} the owner of {owner_target(identity)[1]}: it is a superuser, "
                            "and the definer functions would run as one (use a role that is not)")
    if kind == "grant" and old is not None and not same_sql(old, new):
        # granted to another role now (a renamed or passed-in role): the old one loses it,
        # if it is still there (a role of ours may have gone before)
        was = parse_sql(old[0])[0].stmt.grantees[0].rolename
        if pg.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (was,)).fetchone():
            return [*drop_statements(kind, identity, old), *new]
        return list(new)
    if live is None:
        if kind == "role":
            return [*new, sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(identity),
                                                                     sql.Literal(ROLE_MARKER))]
        return list(new)
    create, attached = _split(new)
    old_create = _split(old)[0] if old else None
    drifted = applied is not None and catalog.drifted(kind, live, applied)
    if old is not None and not drifted and same_sql(old, new):
        return []  # e.g. only the connection changed: nothing to do in the database
    if kind in ("function", "view"):
        return [_or_replace(create), *attached]
    if kind in ("event_trigger", "index", "type"):
        return [*drop_statements(kind, identity, new), *new]
    if kind == "table":
        return [*_table_plan(pg, identity, old_create, create, live, applied), *attached]
    if kind == "sequence":
        if old_create is not None and RawStream()(old_create) != RawStream()(create):
            raise PlanError(f"sequence {identity} would change: changing a sequence in place "
                            "can reuse numbers; write a migration for it")
        if drifted and {k: v for k, v in live.items() if k != "public"} != \
                {k: v for k, v in applied.items() if k != "public"}:
            raise PlanError(f"sequence {identity} was changed by hand: change it back by hand "
                            "(restoring it here could reuse numbers)")
        return [*_revoke_public(kind, identity, drifted), *attached]
    if kind == "schema":
        return [*_revoke_public(kind, identity, drifted), *attached]
    if kind == "role":
        # back to the attributes it was declared with (CREATE ROLE ... -> ALTER ROLE ...)
        alter_role = ast.AlterRoleStmt(role=ast.RoleSpec(roletype=0, rolename=create.role),
                                       options=create.options, action=1)
        return [RawStream()(alter_role), *attached] if drifted else attached
    # grants, owners and data are idempotent as written
    return list(new)
