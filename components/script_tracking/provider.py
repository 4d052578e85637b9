"""The Pulumi dynamic provider: a set of database objects managed as one resource.

One resource holds every object of the tracking system in one database (and one
resource each of its two roles), so that a database costs the engine one step,
one state entry and one PostgreSQL connection per operation, whatever the number
of objects, and every apply is all-or-nothing for the whole database.

Inputs: `objects` (key -> {kind, identity, statements, dependsOn}: each object's
SQL as written in sql/), `connection` (a secret: it carries the password),
`preflight` (check the connection and privileges at preview), and `plan` with
`planId`, which check fills in. Outputs add `applied` (key -> catalog fingerprint
right after the last apply), `adopted` (keys of objects that existed before the
stack), `retained` (tables and sequences that left sql/ but keep their rows until
destroy), `drift` (key -> live fingerprint, or MISSING, where the catalog no longer
matches `applied`, found by `read`), `planned` (the planId the last apply ran) and
`database` (the cluster's system identifier and the database's OID: a new address of
the same database is an update, not a move).

  check   parses every statement with pglast; connects, checks privileges (with
          `preflight`), makes the plan (plan.py: the live catalog against the desired
          state rendered by the server, scratch.py) and, when it changes what exists,
          runs it in a transaction that is rolled back: one line per problem, at preview
  diff    the plan's objects (what preview --diff shows, with why and the statements),
          what refresh found, a connection that changed; another database is a replace
  create  / update / delete: the plan made again under the apply lock, run in one
          serialized, bounded transaction, then every object checked against its SQL
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
from pulumi.runtime import rpc
from pulumi.dynamic import (CheckFailure, CheckResult, ConfigureRequest, CreateResult, DiffResult,
                            ReadResult, ResourceProvider, UpdateResult)

from . import catalog
from .db import Connection, ProviderError, TransientError, apply_transaction, session
from .desired import FILTER_TABLE, rows_of
from .kinds import ROLE_MARKER
from .plan import Change, PlanError, check_applied, drop_changes, holds_rows, make_plan, render
from .plan import run as run_plan
from .preflight import PreflightError, check_writable, preflight
from .scratch import desired_fingerprints, make_missing_roles
from .sqlsource import same_sql

KINDS = ("schema", "role", "type", "sequence", "table", "index", "function", "view", "owner", "grant", "data",
         "event_trigger")
# drift marker for an object that is gone from the catalog
MISSING = "missing: dropped outside Pulumi"
# the database an installation lives in; another one means another installation
WHERE = ("host", "port", "database")


# The detailed diff (property path -> PropertyDiff kind) of the last diff this thread
# made; see _adapt_host.
_DETAILED = threading.local()
ADD, DELETE, UPDATE, UPDATE_REPLACE = 0, 2, 4, 5
OUTPUTS = ("plan", "drift")  # detailed-diff paths into what the provider computes, not the inputs


def _path(prop: str, key: str) -> str:
    return f"{prop}[{json.dumps(key)}]"


def _adapt_host() -> None:
    """What the dynamic provider host (`python -m pulumi.dynamic`, which runs as
    __main__) offers no way to say, given to it through the modules it calls:
    - a detailed diff: DiffResult has no field for it, so for a changed set the engine
      would print every object in it. The host builds its answer with
      `proto.DiffResponse`: a `proto` whose DiffResponse carries the detailed diff our
      `diff` just made in this thread makes `preview --diff` show just the objects that
      change, and why.
    - an error as its message: the host answers every exception with
      `traceback.format_exc()`, which names the class by its module path
      (`script_tracking.db.ProviderError: ...`); a `traceback` whose format_exc gives an
      error of ours (one line meant for the user) as its message alone.
    Anywhere else (a program, a test) this does nothing."""
    host = sys.modules.get("__main__")
    if getattr(host, "DynamicResourceProviderServicer", None) is None:
        return
    for name, adapted in (("proto", _HostProto), ("traceback", _HostTraceback)):
        real = getattr(host, name, None)
        if real is not None and not isinstance(real, adapted):
            setattr(host, name, adapted(real))


class _HostTraceback:
    """The host's `traceback` module; format_exc gives a ProviderError as its message."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def format_exc(self, *args: Any, **kwargs: Any) -> str:
        exc = sys.exc_info()[1]
        return str(exc) if isinstance(exc, ProviderError) else self._real.format_exc(*args, **kwargs)


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
            fields["detailedDiff"] = {path: self._real.PropertyDiff(kind=kind, inputDiff=not path.startswith(OUTPUTS))
                                      for path, kind in detailed.items()}
            fields["diffs"] = sorted({path.split("[")[0] for path in detailed})
            fields["hasDetailedDiff"] = True
        return self._real.DiffResponse(**fields)


class LegacyStateError(ProviderError):
    """The state was written by script-tracking 0.1 (one resource per object)."""


def _failure(reason: str) -> CheckFailure:
    """A check failure the engine prints as one line: for a failure that names a property
    it prints that property's whole value first (the objects: about 100 KB of SQL). The
    reason names what is wrong (an object's key, the connection's field)."""
    return CheckFailure("", reason)


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


def _plan(pg, olds: dict[str, Any] | None, news: dict[str, Any]) -> tuple[list[Change], dict[str, Any]]:
    """The plan from the state (`olds`: outputs, or the inputs at check) to `news`,
    and the desired fingerprints it aims at."""
    desired = desired_fingerprints(pg, news["objects"], creation_order)
    # a role of the user's (found, not made by an installation) is only granted to: it is
    # wanted as it is, so its attributes (LOGIN, CREATEDB, ...) are never changed
    for k, obj in news["objects"].items():
        if obj["kind"] == "role" and _adopts(pg, obj, live := _inspect(pg, obj)):
            desired[k] = live
    olds = olds or {}
    return make_plan(pg, olds.get("objects") or {}, news["objects"], desired, order=creation_order,
                     adopted=set(olds.get("adopted") or ()), retained=olds.get("retained") or {}), desired


def _sql_changes(old: dict[str, dict], new: dict[str, dict]) -> list[str]:
    """Keys of the objects added, removed or whose SQL changed (parser-normalized)."""
    return sorted(k for k in {*old, *new} if k not in old or k not in new or old[k]["kind"] != new[k]["kind"]
                  or not same_sql(old[k]["statements"], new[k]["statements"]))


def _shown(changes: list[Change], fresh: bool = False) -> dict[str, Any]:
    """The plan as the `plan` input shows it at preview: a create's statements are the
    object's own, so only its reason is repeated; a `fresh` installation (a resource
    created where none of its objects exist) creates everything, which the objects
    input already shows."""
    out = render(changes)
    for entry in out.values():
        if entry["action"] == "create":
            entry.pop("steps")
    if fresh and all(entry["action"] == "create" for entry in out.values()):
        return {}
    return out


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
        # user as one line (the host gives them as their message: _adapt_host); it
        # prints a traceback of any other exception: tell it to print no frames.
        sys.tracebacklimit = 0
        # the stack's config, where a connection's current password may be (passwordConfig)
        self._config = req.config

    def _connection(self, props: dict[str, Any]) -> Connection:
        return Connection.from_props(props["connection"], getattr(self, "_config", None))

    # ------------------------------------------------------------ check, diff

    @_retried
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        objects = news.get("objects")
        if not _known(objects) and not isinstance(objects, dict):
            return CheckResult(news, [])
        if not isinstance(objects, dict) or not objects:
            return CheckResult(news, [_failure("a resource needs at least one object")])
        for key, obj in objects.items():
            if isinstance(obj, dict) and obj.get("invalid"):  # see tracking.ScriptTracking
                failures.append(_failure(f"{key}: {obj['invalid']}"))
                continue
            if not isinstance(obj, dict) or not _known(obj.get("kind")):
                continue
            if obj.get("kind") not in KINDS:
                failures.append(_failure(f"{key}: unknown object kind {obj.get('kind')!r}"))
            if not obj.get("statements"):
                failures.append(_failure(f"{key}: an object needs at least one statement"))
            for text in obj.get("statements") or ():
                if not isinstance(text, str) or not _known(text):
                    continue
                try:
                    parse_sql(text)
                except ParseError as exc:
                    failures.append(_failure(f"{key}: {exc}"))
        conn = news.get("connection")
        if isinstance(conn, dict) and conn.get("invalid"):  # see tracking.ScriptTracking
            return CheckResult(news, [_failure(str(conn["invalid"]))])
        if not failures and isinstance(conn, dict) and conn.get("host") and _known(conn) and _known(objects):
            try:
                news = {**news, "plan": self._preview(olds, news), "planId": uuid.uuid4().hex}
            except TransientError:
                if news.get("preflight"):
                    raise  # tried again (see _retried); in the end it is the error, one line
                # the server cannot be reached: the plan is made at apply, which fails for this
                # database alone, naming it (a fleet goes on with the others)
            except PreflightError as exc:
                failures.append(_failure(str(exc)))
            except ProviderError as exc:
                failures.append(_failure(str(exc)))
        return CheckResult(news, failures)

    def _preview(self, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        """The plan, made against the live database (with `preflight`: after checking what
        the connection may do). A plan that changes what exists is also run once, in a
        transaction that is rolled back and under the locks an apply takes (a fleet's
        databases share their roles): a step the database would refuse (a NOT NULL over
        NULLs, a CHECK the rows break) is refused now. (What it creates, the desired state
        rendered in scratch schemas has run already.)"""
        conn = self._connection(news)
        old_objs = olds.get("objects") if isinstance(olds.get("objects"), dict) else {}
        objects = [o for o in news["objects"].values() if isinstance(o, dict)]
        with session(conn) as pg:
            check_writable(pg, conn)
            if news.get("preflight"):
                preflight(pg, conn, event_triggers=any(o.get("kind") == "event_trigger" for o in objects),
                          owner_role=next((catalog.owner_params(o["identity"], o["statements"][0])["role"]
                                           for o in objects if o.get("kind") == "owner"), None),
                          in_public=any(o.get("kind") != "grant" and str(o.get("identity")).startswith("public.")
                                        for o in objects),
                          filter_rows=rows_of(objects, FILTER_TABLE))
            changes, _ = _plan(pg, olds if old_objs else None, news)
        if any(c.action != "create" for c in changes):
            with apply_transaction(conn, roles=_changes_roles(news["objects"].values(), old_objs.values()),
                                   rehearsal=True) as pg:
                make_missing_roles(pg, news["objects"])  # a renamed writerRole: made before this, at apply
                changes, _ = _plan(pg, olds if old_objs else None, news)
                run_plan(pg, changes)
        return _shown(changes, fresh=not old_objs)

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
        plan = news.get("plan")
        if news.get("planId") and news["planId"] == olds.get("planned"):
            plan = {}  # the inputs the last apply ran with (what a refresh shows its findings against)
        detailed = None
        if plan is None:  # not made at check (a caller that skips it, a server it could not reach)
            try:
                with session(self._connection(news)) as pg:
                    plan = _shown(_plan(pg, olds, news)[0])
            except TransientError:  # unreachable: what the SQL says changed, applied (or failed) at up
                plan = {k: {} for k in _sql_changes(olds["objects"], news["objects"])}
                detailed = {_path("objects", k): UPDATE for k in plan}
        # the plan is shown as an addition (inputDiff false: the outputs hold no plan); what a
        # refresh found (drift) is a change too, shown as what was found (the live fingerprint,
        # or "missing"): the refresh diffs the state it read against the recorded inputs, so
        # the drift is what `up` removes, which it prints as the finding, with a "+"
        _DETAILED.value = detailed if detailed is not None else {_path("plan", k): ADD for k in plan}
        _DETAILED.value.update({_path("drift", k): DELETE for k in olds.get("drift") or {} if k not in plan})
        # where the password comes from is not the connection itself (a stack of an earlier
        # release learns it with its next change)
        connection_changed = {k: v for k, v in old_conn.items() if k != "passwordConfig"} != \
            {k: v for k, v in new_conn.items() if k != "passwordConfig"}
        if connection_changed:
            _DETAILED.value["connection"] = UPDATE
        return DiffResult(changes=bool(_DETAILED.value), replaces=[], delete_before_replace=True)

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
                if obj["kind"] == "table" and _inspect(pg, obj) is not None and holds_rows(pg, obj):
                    raise PlanError(f"refusing to move to another database: table {obj['identity']} "
                                    f"holds rows in {self._connection(olds).where}")

    # ------------------------------------------------------------ create, update, delete, read

    def _apply(self, news: dict[str, Any], olds: Optional[dict[str, Any]]) -> dict[str, Any]:
        conn = self._connection(news)
        new_objs: dict[str, dict] = news["objects"]
        old_objs: dict[str, dict] = olds["objects"] if olds else {}
        retained: dict[str, dict] = dict(olds.get("retained") or {}) if olds else {}
        adopted = set(olds.get("adopted") or ()) if olds else set()
        with apply_transaction(conn, roles=_changes_roles(new_objs.values(), old_objs.values())) as pg:
            # made again under the lock: the one preview showed, unless another apply ran in between
            changes, desired = _plan(pg, olds, news)
            # objects found before we create them are the user's (see _adopts)
            adopted |= {k for k in new_objs if k not in old_objs and k not in retained
                        and _adopts(pg, new_objs[k], _inspect(pg, new_objs[k]))}
            run_plan(pg, changes)
            for change in changes:
                if change.action == "keep":
                    retained[change.key] = old_objs[change.key]
                elif change.action == "drop" and change.key not in new_objs:
                    adopted.discard(change.key)
            applied = {k: catalog.recorded(new_objs[k]["kind"], v) for k, v in check_applied(pg, new_objs, desired).items()}
            database = catalog.database_identity(pg)
        retained = {k: v for k, v in retained.items() if k not in new_objs}
        return {**news, "plan": {}, "planned": news.get("planId"), "applied": applied, "adopted": sorted(adopted & set(new_objs)),
                "retained": retained, "drift": {}, "database": database}

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
            for change in drop_changes(pg, objs, adopted, creation_order):
                change.run(pg)

    @_retried
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        applied = props.get("applied") or {}
        drift: dict[str, Any] = {}
        with session(self._connection(props)) as pg:
            for k, obj in props["objects"].items():
                live = _inspect(pg, obj)
                if catalog.drifted(obj["kind"], live, applied.get(k)):
                    drift[k] = MISSING if live is None else catalog.recorded(obj["kind"], live)
        if len(drift) == len(props["objects"]) and all(v == MISSING for v in drift.values()):
            return ReadResult(None, {})  # all gone: refresh drops it from the state, up re-creates it
        return ReadResult(id_, {**props, "drift": drift})


_adapt_host()
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
            "objects": objects, "connection": connection, "preflight": preflight_check, "plan": None,
            "planId": None, "planned": None, "applied": None, "adopted": None, "retained": None, "drift": None, "database": None,
        }, opts)


class Objects(_ObjectSet, module="sql", name="Objects"):
    """Every object of the tracking system in one database (schemas, tables,
    functions, grants, event triggers, ...)."""


class Role(_ObjectSet, module="sql", name="Role"):
    """One role of the server (writer or reader), shared by every database of
    the server that tracks scripts."""
