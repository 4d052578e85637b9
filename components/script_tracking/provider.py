"""The Pulumi dynamic provider: a set of database objects managed as one resource.

One resource holds every object of the tracking system in one database (and one
resource each of its two roles), so that a database costs the engine one step,
one state entry and one PostgreSQL connection per operation, whatever the number
of objects, and every apply is all-or-nothing for the whole database.

Inputs: `objects` (key -> {kind, identity, statements, dependsOn}: each object's
SQL as written in sql/), `connection` (a secret: it carries the password) and
`preflight` (check the connection and privileges at preview). Outputs add
`applied` (key -> catalog fingerprint right after the last apply), `adopted`
(keys of objects that existed before the stack), `retained` (tables and
sequences that left sql/ but keep their rows until destroy) and `drift` (key ->
live fingerprint, or MISSING, where the catalog no longer matches `applied`,
found by `read`) and `database` (the cluster's system identifier and the
database's OID: a new address of the same database is an update, not a move). `pulumi preview --diff` shows the objects that change, with
their SQL, as the difference of the `objects` input.

  check   parses every statement with pglast; with `preflight`, connects and checks
          privileges (one line per problem, at preview)
  diff    per object: parser-normalized SQL (formatting and comments never count),
          objects added or removed, drift; refuses destructive table changes
  create  / update / delete: `plan` each object in dependency order, in one
          serialized, bounded transaction
  read    inspects every object on one connection (refresh, drift)

The provider object holds no state and no credentials: it is pickled into the
state by reference (`script_tracking.provider.ObjectSetProvider`: every stack's
state names it, so it must not move).
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
import uuid
from typing import Any, Iterable, Optional

import pulumi
from pglast import parse_sql
from pglast.parser import ParseError
import psycopg
from psycopg import sql
from pulumi.runtime import rpc
from pulumi.dynamic import (CheckFailure, CheckResult, ConfigureRequest, CreateResult, DiffResult,
                            ReadResult, ResourceProvider, UpdateResult)

from . import catalog
from .db import Connection, ProviderError, TransientError, apply_transaction, session
from .desired import RETAINED
from .plan import ROLE_MARKER, PlanError, drop_statements, plan
from .preflight import preflight
from .sqlsource import identifier, same_sql

KINDS = ("schema", "role", "type", "sequence", "table", "index", "function", "view", "owner", "grant", "data",
         "event_trigger")
# drift marker for an object that is gone from the catalog
MISSING = "missing: dropped outside Pulumi"
# the database an installation lives in; another one means another installation
WHERE = ("host", "port", "database")


# The detailed diff (property path -> PropertyDiff kind) of the last diff this thread
# made; see _pass_detailed_diffs.
_DETAILED = threading.local()
ADD, DELETE, UPDATE, UPDATE_REPLACE = 0, 2, 4, 5


def _path(key: str) -> str:
    return f"objects[{json.dumps(key)}]"


def _pass_detailed_diffs() -> None:
    """Python dynamic providers have no way to return a detailed diff (DiffResult
    has no field for it), so for a changed set the engine would print every object
    in it. Inside the dynamic provider host (`python -m pulumi.dynamic`, which runs
    as __main__ and builds its answer with `proto.DiffResponse`), hand it a `proto`
    whose DiffResponse carries the detailed diff our `diff` just made in this
    thread: `preview --diff` then shows just the objects that change, and why.
    Anywhere else (a program, a test) this does nothing."""
    host = sys.modules.get("__main__")
    real = getattr(host, "proto", None)
    if getattr(host, "DynamicResourceProviderServicer", None) is None or real is None \
            or isinstance(real, _HostProto):
        return
    host.proto = _HostProto(real)


class _HostProto:
    """The host's `proto` module, with a DiffResponse that adds our detailed diff."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.DiffResponse = _DiffResponse(real)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _DiffResponse:
    """proto.DiffResponse (its constants too), built with the thread's detailed diff."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real.DiffResponse, name)

    def __call__(self, **fields: Any) -> Any:
        detailed, _DETAILED.value = getattr(_DETAILED, "value", None), None
        if detailed:
            fields["detailedDiff"] = {path: self._real.PropertyDiff(kind=kind, inputDiff=True)
                                      for path, kind in detailed.items()}
            fields["diffs"] = sorted({path.split("[")[0] for path in detailed})
            fields["hasDetailedDiff"] = True
        return self._real.DiffResponse(**fields)


class LegacyStateError(ProviderError):
    """The state was written by script-tracking 0.1 (one resource per object)."""


def _known(value: Any) -> bool:
    """False for a value (or a value inside it) that is unknown during preview."""
    if isinstance(value, str):
        return value != rpc.UNKNOWN  # what the dynamic provider host passes for an unknown
    if isinstance(value, dict):
        return all(_known(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_known(v) for v in value)
    return True


def creation_order(objects: dict[str, dict]) -> list[str]:
    """Keys in an order that creates every object after what it depends on:
    dependencies first, then by kind (schemas, roles, types, sequences, tables,
    ...; event triggers last so they do not record our own DDL), then by key."""
    rank = {k: (KINDS.index(o["kind"]), k) for k, o in objects.items()}
    deps = {k: [d for d in o.get("dependsOn") or () if d in objects and d != k] for k, o in objects.items()}
    done: list[str] = []
    placed: set[str] = set()

    def place(k: str, path: tuple[str, ...]) -> None:
        if k in placed:
            return
        if k in path:
            raise ProviderError(f"objects depend on each other in a cycle: {' -> '.join((*path, k))}")
        for d in sorted(deps[k], key=rank.__getitem__):
            place(d, (*path, k))
        placed.add(k)
        done.append(k)

    for k in sorted(objects, key=rank.__getitem__):
        place(k, ())
    return done


def _inspect(pg, obj: dict) -> Any | None:
    return catalog.inspect(pg, obj["kind"], obj["identity"], list(obj["statements"]))


def _adopts(pg, obj: dict, live: Any | None) -> bool:
    """An object found before we create it is the user's, except a role another
    database's installation created (it is shared, and ours)."""
    if live is None:
        return False
    return not (obj["kind"] == "role" and catalog.role_is_marked(pg, obj["identity"], ROLE_MARKER))


def _drop(pg, obj: dict, adopted: bool) -> None:
    if _inspect(pg, obj) is None:
        return  # already gone: deleting is idempotent
    kind, identity = obj["kind"], obj["identity"]
    if kind == "role" and (adopted or catalog.role_in_use_elsewhere(pg, identity)):
        return  # the user's, or still used by another database's installation
    steps = drop_statements(kind, identity, list(obj["statements"]), adopted)
    if kind == "schema" and adopted:
        try:
            with pg.transaction():  # a savepoint: the user's own objects keep their schema
                for step in steps:
                    pg.execute(step)
        except psycopg.errors.DependentObjectsStillExist:
            pass
        return
    for step in steps:
        pg.execute(step)


def _holds_rows(pg, table: dict) -> bool:
    return bool(pg.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
        identifier(table["identity"]))).fetchone()[0])


def _refuse_if_rows(pg, obj: dict, why: str) -> None:
    if _holds_rows(pg, obj):
        raise PlanError(f"refusing to change table {obj['identity']}: it holds rows and {why}")


# waits between tries of an operation that met a TransientError (about 4 s in all)
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)


def _retried(operation):
    """The operation again, after a bounded backoff, while the server is restarting or
    the connection breaks; each try is a whole transaction, so it is safe to repeat."""
    @functools.wraps(operation)
    def retrying(*args, **kwargs):
        for delay in RETRY_DELAYS:
            try:
                return operation(*args, **kwargs)
            except TransientError:
                time.sleep(delay)
        return operation(*args, **kwargs)
    return retrying


def _changes_roles(*object_sets: Iterable[dict]) -> bool:
    return any(o["kind"] == "role" for objs in object_sets for o in objs)


class ObjectSetProvider(ResourceProvider):
    # captures nothing secret, so it need not be encrypted into the state on every step
    serialize_as_secret_always = False

    def configure(self, req: ConfigureRequest) -> None:
        # Only the provider process calls this. Errors we raise are meant for the
        # user as one line; the dynamic provider host prints a traceback of
        # every exception, so tell it to print no frames.
        sys.tracebacklimit = 0
        # the stack's config, where a connection's current password may be (passwordConfig)
        self._config = req.config

    def _connection(self, props: dict[str, Any]) -> Connection:
        return Connection.from_props(props["connection"], getattr(self, "_config", None))

    # ------------------------------------------------------------ check, diff

    @_retried
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        objects = news.get("objects")
        if not _known(objects) and not isinstance(objects, dict):
            return CheckResult(news, [])
        if not isinstance(objects, dict) or not objects:
            return CheckResult(news, [CheckFailure("objects", "a resource needs at least one object")])
        for key, obj in objects.items():
            if isinstance(obj, dict) and obj.get("invalid"):  # see tracking.ScriptTracking
                failures.append(CheckFailure("objects", f"{key}: {obj['invalid']}"))
                continue
            if not isinstance(obj, dict) or not _known(obj.get("kind")):
                continue
            if obj.get("kind") not in KINDS:
                failures.append(CheckFailure("objects", f"{key}: unknown object kind {obj.get('kind')!r}"))
            if not obj.get("statements"):
                failures.append(CheckFailure("objects", f"{key}: an object needs at least one statement"))
            for text in obj.get("statements") or ():
                if not isinstance(text, str) or not _known(text):
                    continue
                try:
                    parse_sql(text)
                except ParseError as exc:
                    failures.append(CheckFailure("objects", f"{key}: {exc}"))
        conn = news.get("connection")
        if isinstance(conn, dict) and conn.get("invalid"):  # see tracking.ScriptTracking
            return CheckResult(news, [CheckFailure("connection", str(conn["invalid"]))])
        if not failures and news.get("preflight") and _known(conn):
            try:
                kinds = [o for o in objects.values() if isinstance(o, dict)]
                preflight(self._connection(news),
                          event_triggers=any(o.get("kind") == "event_trigger" for o in kinds),
                          owner_role=next((catalog.owner_params(o["identity"], o["statements"][0])["role"]
                                           for o in kinds if o.get("kind") == "owner"), None))
            except TransientError:
                raise  # tried again (see _retried); in the end it is the error, one line
            except ProviderError as exc:
                failures.append(CheckFailure("connection", str(exc)))
        return CheckResult(news, failures)

    @_retried
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        _DETAILED.value = None
        if "objects" not in olds:
            raise LegacyStateError(f"{olds.get('identity')}: this stack was made by script-tracking 0.1: upgrade its "
                                   "state first with python -m script_tracking.upgrade --stack <name> "
                                   "(make up/preview do it)")
        old_conn, new_conn = olds["connection"], news.get("connection")
        known = _known(new_conn) and _known(news.get("objects"))
        replaces = [] if not _known(new_conn) or \
            [old_conn.get(k) for k in WHERE] == [new_conn.get(k) for k in WHERE] else ["connection"]
        if not known:
            # unknown until the resources it depends on exist: an update, applied with the real values
            return DiffResult(changes=True, replaces=replaces, delete_before_replace=True)
        if replaces and self._same_database(olds, news):
            replaces = []  # a new address of the same database: the objects stay as they are
        if replaces:
            self._refuse_to_leave_rows(olds)
            _DETAILED.value = {"connection": UPDATE_REPLACE}
            return DiffResult(changes=True, replaces=replaces, delete_before_replace=True)
        changed = self._changed(olds, news)
        if any(o["kind"] in (*RETAINED, "owner") for k in changed
               for o in (olds["objects"].get(k), news["objects"].get(k)) if o):
            self._plan_read_only(olds, news, changed)
        drift = olds.get("drift") or {}
        _DETAILED.value = {_path(k): ADD if k not in olds["objects"] or drift.get(k) == MISSING
                           else DELETE if k not in news["objects"] else UPDATE for k in changed}
        # where the password comes from is not the connection itself (a stack of an earlier
        # release learns it with its next change)
        connection_changed = {k: v for k, v in old_conn.items() if k != "passwordConfig"} != \
            {k: v for k, v in new_conn.items() if k != "passwordConfig"}
        if connection_changed:
            _DETAILED.value["connection"] = UPDATE
        return DiffResult(changes=bool(changed) or connection_changed, replaces=[], delete_before_replace=True)

    @staticmethod
    def _changed(olds: dict, news: dict) -> list[str]:
        """Keys of the objects an update would touch: new, removed (unless retained),
        SQL changed (normalized), or drifted."""
        old_objs, new_objs, drift = olds["objects"], news["objects"], olds.get("drift") or {}
        retained = olds.get("retained") or {}
        changed = [k for k in new_objs if k not in old_objs and k not in retained]
        # removed; a table or sequence leaves the stack but keeps its rows (recorded as retained)
        changed += [k for k in old_objs if k not in new_objs]
        changed += [k for k in new_objs if k in old_objs and (
            k in drift or old_objs[k]["kind"] != new_objs[k]["kind"]
            or not same_sql(old_objs[k]["statements"], new_objs[k]["statements"]))]
        changed += [k for k in new_objs if k in retained]
        return changed

    def _plan_read_only(self, olds: dict, news: dict, keys: list[str]) -> None:
        """Refuse, at preview, a change that would lose data or hand the objects to a
        superuser: the same plan as at apply, computed read-only, for the tables,
        sequences and owners that change."""
        with session(self._connection(news)) as pg:
            for k in keys:
                new, old = news["objects"].get(k), olds["objects"].get(k) or (olds.get("retained") or {}).get(k)
                if old is not None and old["kind"] == "table" and (new is None or new["kind"] != "table"):
                    if new is not None and _inspect(pg, old) is not None:  # a table becoming another kind
                        _refuse_if_rows(pg, old, f"would become a {new['kind']}")
                    continue
                if new is None or new["kind"] not in (*RETAINED, "owner"):
                    continue
                live = _inspect(pg, new)
                if live is not None or new["kind"] == "owner":  # (an owner role must be fit to own)
                    plan(pg, new["kind"], new["identity"], old and old["statements"], new["statements"], live,
                         (olds.get("applied") or {}).get(k) if old else None)

    def _same_database(self, olds: dict, news: dict) -> bool:
        """Whether the new address reaches the database the installation is in: the
        identity recorded at apply (or read at the old address) against the new one."""
        new = self._connection(news)
        try:
            with session(new) as pg:
                now = catalog.database_identity(pg)
        except ProviderError as exc:
            raise ProviderError(f"cannot tell whether {new.where} is the database of the installation "
                                f"({exc})") from None
        recorded = olds.get("database")
        if not recorded:  # recorded by an earlier release: ask the old address
            with session(self._connection(olds)) as pg:
                recorded = catalog.database_identity(pg)
        return recorded == now

    def _refuse_to_leave_rows(self, olds: dict) -> None:
        with session(self._connection(olds)) as pg:
            for obj in [*olds["objects"].values(), *(olds.get("retained") or {}).values()]:
                if obj["kind"] == "table" and _inspect(pg, obj) is not None and _holds_rows(pg, obj):
                    raise PlanError(f"refusing to move to another database: table {obj['identity']} "
                                    f"holds rows in {self._connection(olds).where}")

    # ------------------------------------------------------------ create, update, delete, read

    def _apply(self, news: dict[str, Any], olds: Optional[dict[str, Any]]) -> dict[str, Any]:
        conn = self._connection(news)
        new_objs: dict[str, dict] = news["objects"]
        old_objs: dict[str, dict] = olds["objects"] if olds else {}
        retained: dict[str, dict] = dict(olds.get("retained") or {}) if olds else {}
        was_applied: dict[str, Any] = (olds.get("applied") or {}) if olds else {}
        adopted = set(olds.get("adopted") or ()) if olds else set()
        applied: dict[str, Any] = {}
        with apply_transaction(conn, roles=_changes_roles(new_objs.values(), old_objs.values())) as pg:
            # what left the program goes first, dependents before what they depend on;
            # tables and sequences stay with their rows until destroy
            same_kind = {k for k in old_objs if k in new_objs and new_objs[k]["kind"] == old_objs[k]["kind"]}
            for k in reversed(creation_order(old_objs)):  # dependents first: a schema after its tables
                if k in same_kind:
                    continue
                obj = old_objs[k]
                holds_retained = obj["kind"] == "schema" and any(
                    o["identity"].startswith(obj["identity"] + ".") for o in retained.values())
                if k not in new_objs and (obj["kind"] in RETAINED or holds_retained):
                    retained[k] = obj
                    continue
                if k in new_objs and obj["kind"] == "table" and _inspect(pg, obj) is not None:
                    _refuse_if_rows(pg, obj, f"would become a {new_objs[k]['kind']}")
                _drop(pg, old_objs[k], k in adopted)
                adopted.discard(k)
            for k in creation_order(new_objs):
                obj, old = new_objs[k], old_objs[k] if k in same_kind else retained.pop(k, None)
                live = _inspect(pg, obj)
                if old is None and _adopts(pg, obj, live):
                    adopted.add(k)
                for step in plan(pg, obj["kind"], obj["identity"], old and list(old["statements"]),
                                 list(obj["statements"]), live, was_applied.get(k) if old else None):
                    pg.execute(step)
                applied[k] = _inspect(pg, obj)
                if applied[k] is None:  # raised inside the transaction: nothing is committed
                    raise ProviderError(f"{obj['kind']} {obj['identity']} cannot be found in the catalog after "
                                        "applying its SQL (object names must be lower case and unquoted)")
            database = catalog.database_identity(pg)
        return {**news, "applied": applied, "adopted": sorted(adopted & set(new_objs)), "retained": retained,
                "drift": {}, "database": database}

    @_retried
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(uuid.uuid4().hex, self._apply(props, None))

    @_retried
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news, olds))

    @_retried
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        objs = {**(props.get("retained") or {}), **props["objects"]}
        adopted = set(props.get("adopted") or ())
        with apply_transaction(self._connection(props), roles=_changes_roles(objs.values())) as pg:
            for k in reversed(creation_order(objs)):
                _drop(pg, objs[k], k in adopted)

    @_retried
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        applied = props.get("applied") or {}
        drift: dict[str, Any] = {}
        with session(self._connection(props)) as pg:
            for k, obj in props["objects"].items():
                live = _inspect(pg, obj)
                if catalog.drifted(obj["kind"], live, applied.get(k)):
                    drift[k] = MISSING if live is None else live
        if len(drift) == len(props["objects"]) and all(v == MISSING for v in drift.values()):
            return ReadResult(None, {})  # all gone: refresh drops it from the state, up re-creates it
        return ReadResult(id_, {**props, "drift": drift})


_pass_detailed_diffs()
_PROVIDER = ObjectSetProvider()


class _ObjectSet(pulumi.dynamic.Resource):
    """Database objects managed from their SQL as one resource; see the subclasses."""

    objects: pulumi.Output[dict]
    applied: pulumi.Output[dict]
    drift: pulumi.Output[dict]

    def __init__(self, name: str, objects: pulumi.Input[dict], connection: pulumi.Input[dict],
                 preflight_check: bool, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["connection"]))
        super().__init__(_PROVIDER, name, {
            "objects": objects, "connection": connection, "preflight": preflight_check,
            "applied": None, "adopted": None, "retained": None, "drift": None, "database": None,
        }, opts)


class Objects(_ObjectSet, module="sql", name="Objects"):
    """Every object of the tracking system in one database (schemas, tables,
    functions, grants, event triggers, ...)."""


class Role(_ObjectSet, module="sql", name="Role"):
    """One role of the server (writer or reader), shared by every database of
    the server that tracks scripts."""
