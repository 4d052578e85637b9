"""The Pulumi dynamic provider: one managed resource per database object.

Inputs of every resource: `kind`, `identity`, `statements` (the object's SQL as
written in sql/) and `connection` (a secret: it carries the password). Outputs
add `applied` (the catalog fingerprint right after the last apply) and
`fingerprint` (the live one, refreshed by `read`); when they differ, the
object drifted and the next `up` repairs it.

  check   parses the statements with pglast (syntax errors surface at preview)
  diff    compares parser-normalized SQL, so formatting and comments never count;
          refuses destructive table changes at preview
  create  / update / delete run `plan` in one serialized, bounded transaction
  read    inspects the live catalog (refresh, drift)

The provider object holds no state and no credentials: it is pickled into the
state by reference, and every credential arrives as a secret input.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

import pulumi
from pglast import parse_sql
from pglast.parser import ParseError
from psycopg import sql
from pulumi.dynamic import (CheckFailure, CheckResult, ConfigureRequest, CreateResult, DiffResult,
                            ReadResult, ResourceProvider, UpdateResult)

from . import catalog
from .db import Connection, ProviderError, apply_transaction, session
from .plan import PlanError, drop_statements, plan
from .sqlsource import DbObject, identifier, normalize

def _normalized(statements: list[str]) -> str:
    return normalize(";\n".join(statements))


def _replace_keys(olds: dict, news: dict) -> list[str]:
    keys = [k for k in ("kind", "identity") if olds.get(k) != news.get(k)]
    where = ("host", "port", "database")
    if [olds["connection"].get(k) for k in where] != [news["connection"].get(k) for k in where]:
        keys.append("connection")
    return keys


class SqlObjectProvider(ResourceProvider):
    # captures nothing secret, so it need not be encrypted into the state on every step
    serialize_as_secret_always = False

    def configure(self, req: ConfigureRequest) -> None:
        # Only the provider process calls this. Errors we raise are meant for the
        # user as one line; the dynamic provider host prints a traceback of
        # every exception, so tell it to print no frames.
        sys.tracebacklimit = 0

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if news.get("kind") not in RESOURCE_TYPES:
            failures.append(CheckFailure("kind", f"unknown object kind {news.get('kind')!r}"))
        if not news.get("statements"):
            failures.append(CheckFailure("statements", "an object needs at least one statement"))
        for text in news.get("statements") or ():
            if not isinstance(text, str):
                continue  # unknown during preview
            try:
                parse_sql(text)
            except ParseError as exc:
                failures.append(CheckFailure("statements", f"{news.get('identity')}: {exc}"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = _replace_keys(olds, news)
        sql_changed = _normalized(olds["statements"]) != _normalized(news["statements"])
        drifted = olds.get("fingerprint") != olds.get("applied")
        connection_changed = olds["connection"] != news["connection"]
        if olds["kind"] in ("table", "sequence") and (replaces or sql_changed or drifted):
            self._check_destructive(olds, news, replaces)
        return DiffResult(
            changes=bool(replaces or sql_changed or drifted or connection_changed),
            replaces=replaces,
            delete_before_replace=True,
        )

    def _check_destructive(self, olds: dict, news: dict, replaces: list[str]) -> None:
        """Refuse, at preview, a change that would lose data: the same plan as at apply,
        computed read-only."""
        conn = Connection.from_props(olds["connection"] if replaces else news["connection"])
        with session(conn) as pg:
            live = catalog.inspect(pg, olds["kind"], olds["identity"], olds["statements"])
            if live is None:
                return
            if replaces and olds["kind"] == "table":
                table = identifier(olds["identity"])
                if pg.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table)).fetchone()[0]:
                    raise PlanError(f"refusing to replace table {olds['identity']}: it holds rows")
                return
            if not replaces:
                plan(pg, olds["kind"], olds["identity"], olds["statements"], news["statements"], live,
                     olds.get("applied"))

    def _apply(self, props: dict[str, Any], old: Optional[dict[str, Any]]) -> dict[str, Any]:
        conn = Connection.from_props(props["connection"])
        kind, identity, statements = props["kind"], props["identity"], list(props["statements"])
        with apply_transaction(conn) as pg:
            live = catalog.inspect(pg, kind, identity, statements)
            # an object found on create existed before this stack: it is adopted
            adopted = bool(old.get("adopted")) if old else live is not None
            for step in plan(pg, kind, identity, old and old["statements"], statements, live,
                             old and old.get("applied")):
                pg.execute(step)
            after = catalog.inspect(pg, kind, identity, statements)
            if after is None:  # raised inside the transaction: nothing is committed
                raise ProviderError(f"{kind} {identity} cannot be found in the catalog after applying its SQL "
                                    "(object names must be lower case and unquoted)")
        return {**props, "applied": after, "fingerprint": after, "adopted": adopted}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["identity"], self._apply(props, None))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news, olds))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        conn = Connection.from_props(props["connection"])
        kind, identity, statements = props["kind"], props["identity"], list(props["statements"])
        with apply_transaction(conn) as pg:
            if catalog.inspect(pg, kind, identity, statements) is None:
                return  # already gone: deleting is idempotent
            for step in drop_statements(kind, identity, statements, bool(props.get("adopted")),
                                        tuple(tuple(o) for o in props.get("owns") or ())):
                pg.execute(step)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        conn = Connection.from_props(props["connection"])
        with session(conn) as pg:
            live = catalog.inspect(pg, props["kind"], props["identity"], list(props["statements"]))
        if live is None:
            return ReadResult(None, {})  # gone: refresh drops it from the state, up re-creates it
        return ReadResult(id_, {**props, "fingerprint": live})


_PROVIDER = SqlObjectProvider()


class _SqlObject(pulumi.dynamic.Resource):
    """A database object managed from its SQL; see the subclasses for type names."""

    kind: pulumi.Output[str]
    identity: pulumi.Output[str]
    fingerprint: pulumi.Output[Any]

    def __init__(self, obj: DbObject, connection: pulumi.Input[dict],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["connection"]))
        super().__init__(_PROVIDER, obj.identity, {
            "kind": obj.kind,
            "identity": obj.identity,
            "statements": list(obj.statements),
            "owns": [list(o) for o in obj.owns],
            "connection": connection,
            "applied": None,
            "fingerprint": None,
        }, opts)


class Schema(_SqlObject, module="sql", name="Schema"): pass
class Role(_SqlObject, module="sql", name="Role"): pass
class Table(_SqlObject, module="sql", name="Table"): pass
class Sequence(_SqlObject, module="sql", name="Sequence"): pass
class Index(_SqlObject, module="sql", name="Index"): pass
class View(_SqlObject, module="sql", name="View"): pass
class Function(_SqlObject, module="sql", name="Function"): pass
class Type(_SqlObject, module="sql", name="Type"): pass
class EventTrigger(_SqlObject, module="sql", name="EventTrigger"): pass
class Grant(_SqlObject, module="sql", name="Grant"): pass
class Data(_SqlObject, module="sql", name="Data"): pass

RESOURCE_TYPES: dict[str, type[_SqlObject]] = {
    "schema": Schema, "role": Role, "table": Table, "sequence": Sequence, "index": Index, "view": View,
    "function": Function, "type": Type, "event_trigger": EventTrigger, "grant": Grant, "data": Data,
}
