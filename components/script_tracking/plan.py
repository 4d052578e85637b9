"""Plans: every statement that takes the live database to the desired objects.

A plan compares each object's live fingerprint with the one its SQL gives on
this server (scratch.py): equal objects are left alone, different ones are
altered in place (kinds.py) or, where CREATE OR REPLACE cannot do it, dropped
and created again together with what depends on them; a change that would lose
data is refused (PlanError, one line). The same plan is made at preview (check,
where it is also run in a transaction that is rolled back, so that `up` meets
no error preview could have known) and at apply, inside the locked
transaction, where it runs. `render` is what preview shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import psycopg
from psycopg import sql

from . import catalog
from .db import ProviderError, describe
from .desired import RETAINED
from .kinds import KINDS, PlanError, Replace, Statement, differences, superuser_owner  # noqa: F401 (PlanError)
from .sqlsource import identifier, normalize

Objects = dict[str, dict[str, Any]]


@dataclass
class Change:
    key: str
    kind: str
    identity: str
    action: str  # create, alter, replace, recreate (what depends on a replaced object), drop, keep
    why: list[str] = field(default_factory=list)
    steps: list[Statement] = field(default_factory=list)

    def run(self, pg: psycopg.Connection) -> None:
        if self.action == "drop" and self.kind == "schema":
            try:
                with pg.transaction():  # a savepoint: the user's own objects keep their schema
                    for step in self.steps:
                        pg.execute(step)
            except psycopg.errors.DependentObjectsStillExist:
                pass
            return
        for step in self.steps:
            pg.execute(step)


def run(pg: psycopg.Connection, changes: list[Change]) -> None:
    """Run a plan; a statement the database refuses is one line naming the object."""
    for change in changes:
        try:
            change.run(pg)
        except psycopg.Error as exc:
            raise ProviderError(f"{change.kind} {change.identity}: {describe(exc)}") from None


def _text(step: Statement, pg: psycopg.Connection | None) -> str:
    return step if isinstance(step, str) else step.as_string(pg)


def render(changes: list[Change], pg: psycopg.Connection | None = None) -> dict[str, dict[str, Any]]:
    """key -> {action, why, steps}: the plan as preview shows it (in the `plan` input)."""
    out: dict[str, dict[str, Any]] = {}
    for c in changes:
        entry = out.setdefault(c.key, {"action": c.action, "why": [], "steps": []})
        if entry["action"] == "drop" and c.action != "drop":  # dropped, then created again
            entry["action"] = "replace" if c.action == "create" else c.action
        entry["why"] += [w for w in c.why if w not in entry["why"]]
        entry["steps"] += [_text(s, pg) for s in c.steps]
    return out


def _inspect(pg: psycopg.Connection, obj: dict) -> Any | None:
    return catalog.inspect(pg, obj["kind"], obj["identity"], list(obj["statements"]))


def make_plan(pg: psycopg.Connection, old: Objects, new: Objects, desired: dict[str, Any], *,
              order: Callable[[Objects], list[str]], adopted: set[str] = frozenset(),
              retained: Objects | None = None) -> list[Change]:
    """The changes, in the order they run, that make the live objects of `new` equal
    to `desired` (their fingerprints rendered from their SQL) and remove those of `old`
    that left (tables and sequences are kept with their rows: `keep`)."""
    retained = dict(retained or {})
    drops: list[Change] = []
    late: list[Change] = []
    # what left the program goes first, dependents before what they depend on; but what an
    # object that stays named in its old SQL goes last, after that object has changed (a
    # function its old body calls: PostgreSQL records no such dependency, and the event
    # triggers' functions run during the plan's own DDL)
    same_kind = {k for k in old if k in new and new[k]["kind"] == old[k]["kind"]}
    gone = {k: o for k, o in old.items() if k not in same_kind}
    named = {d for k in same_kind for d in old[k].get("dependsOn") or ()}
    last = {k for k in gone if k in named and k not in new}
    while grown := {d for k in last for d in gone[k].get("dependsOn") or () if d in gone and d not in new} - last:
        last |= grown  # and what those name in turn
    for k in reversed(order(gone)):
        obj = gone[k]
        holds_retained = obj["kind"] == "schema" and any(
            o["identity"].startswith(obj["identity"] + ".") for o in retained.values())
        if k not in new and (obj["kind"] in RETAINED or holds_retained):
            drops.append(Change(k, obj["kind"], obj["identity"], "keep",
                                ["left the SQL: kept with its rows until destroy"]))
            retained[k] = obj
            continue
        if k in new and obj["kind"] == "table" and _inspect(pg, obj) is not None and holds_rows(pg, obj):
            raise PlanError(f"refusing to change table {obj['identity']}: it holds rows and "
                            f"would become a {new[k]['kind']}")
        (late if k in last else drops).extend(_drop(pg, k, obj, k in adopted, ["left the SQL"]))

    for k in same_kind:  # granted to another role now: the old one loses it
        if KINDS[old[k]["kind"]].moved(old[k]["statements"], new[k]["statements"]):
            drops += _drop(pg, k, old[k], False, ["its SQL now names another object"])
    live = catalog.inspect_all(pg, new)
    altered: dict[str, tuple[list[Statement], list[str]]] = {}
    replaced: dict[str, list[str]] = {}
    owners: dict[str, dict] = {}  # by role: each is checked once
    for o in new.values():
        if o["kind"] == "owner":
            owners.setdefault(catalog.owner_params(o["identity"], o["statements"][0])["role"], o)
    for o in owners.values():
        superuser_owner(pg, o["identity"], o["statements"][0])
    for k, obj in new.items():
        if live[k] is None or catalog.same(obj["kind"], live[k], desired[k]):
            continue
        try:
            altered[k] = KINDS[obj["kind"]].alter(pg, obj["identity"], list(obj["statements"]), live[k], desired[k])
        except Replace as r:
            replaced[k] = r.why
    # a column whose type changes takes the views over its table along (ALTER TYPE refuses them)
    retyped = {k: [f"its table {new[k]['identity']} changes a column's type"] for k in altered
               if new[k]["kind"] == "table" and KINDS["table"].retypes(live[k], desired[k])}
    dependents = _dependents(pg, new, live, {**replaced, **retyped})
    dependents = {k: v for k, v in dependents.items() if k not in retyped}

    changes = list(drops)
    creation = order(new)
    again = {**replaced, **dependents}
    for k in reversed(creation):
        if k in again and live[k] is not None:
            obj = new[k]
            changes.append(Change(k, obj["kind"], obj["identity"], "drop", [],
                                  KINDS[obj["kind"]].drop(obj["identity"], list(obj["statements"]), False)))
    for k in creation:
        obj = new[k]
        create = KINDS[obj["kind"]].create(obj["identity"], list(obj["statements"]))
        if k in again:
            changes.append(Change(k, obj["kind"], obj["identity"], "replace" if k in replaced else "recreate",
                                  again[k], create))
        elif live[k] is None:
            changes.append(Change(k, obj["kind"], obj["identity"], "create", ["not in the database"], create))
        elif k in altered:
            steps, why = altered[k]
            unique = {normalize(_text(s, pg)): s for s in steps}  # a REVOKE the SQL also makes runs once
            changes.append(Change(k, obj["kind"], obj["identity"], "alter", why, list(unique.values())))
    return changes + late


def _dependents(pg: psycopg.Connection, new: Objects, live: dict[str, Any],
                replaced: dict[str, list[str]]) -> dict[str, list[str]]:
    # (a table in `replaced` stays: only the views over it go and come back)
    """key -> why, of what a drop of a replaced object takes along: views and event
    triggers that depend on it (their own dependents too), and the grants, owners and
    rows of objects created again. Anything else that depends on it (an object of the
    user's, a constraint) is refused, by name."""
    by_identity = {(o["kind"], o["identity"]): k for k, o in new.items()}
    out: dict[str, list[str]] = {}
    todo = [k for k in replaced if live[k] is not None]
    while todo:
        k = todo.pop()
        obj = new[k]
        if obj["kind"] in ("function", "view", "type", "table"):
            for dep in catalog.dependents(pg, obj["kind"], obj["identity"]):
                if obj["kind"] == "table" and dep["kind"] != "view":
                    continue  # its indexes and constraints follow an ALTER TYPE
                key = by_identity.get((dep["kind"], dep["identity"]))
                if key is None:
                    raise PlanError(f"{obj['kind']} {obj['identity']} must be dropped and created again "
                                    f"({'; '.join(replaced.get(k) or out[k])}), but {dep['description']} depends on it "
                                    "and is not part of the tracking system: drop it first")
                if key not in replaced and key not in out:
                    out[key] = [f"depends on {obj['kind']} {obj['identity']}, which is created again"]
                    todo.append(key)
        for other, o in new.items():
            if obj["kind"] == "table":
                break
            if other not in replaced and other not in out and o["kind"] in ("grant", "owner") \
                    and obj["identity"] in (o.get("dependsOn") or ()):
                out[other] = [f"the {obj['kind']} it is about is created again"]
    return out


def holds_rows(pg: psycopg.Connection, table: dict) -> bool:
    return bool(pg.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
        identifier(table["identity"]))).fetchone()[0])


def drop_changes(pg: psycopg.Connection, objects: Objects, adopted: set[str],
                 order: Callable[[Objects], list[str]]) -> list[Change]:
    """Every object that exists, dropped, dependents first (destroy)."""
    return [c for k in reversed(order(objects)) for c in _drop(pg, k, objects[k], k in adopted, [])]


def _drop(pg: psycopg.Connection, key: str, obj: dict, adopted: bool, why: list[str]) -> list[Change]:
    """The drop of an object that exists; none for one that is gone (deleting is
    idempotent), nor for a role that is the user's or another database still uses."""
    if _inspect(pg, obj) is None:
        return []
    if obj["kind"] == "role" and (adopted or catalog.role_in_use_elsewhere(pg, obj["identity"])):
        return []
    return [Change(key, obj["kind"], obj["identity"], "drop", why,
                   KINDS[obj["kind"]].drop(obj["identity"], list(obj["statements"]), adopted))]


def check_applied(pg: psycopg.Connection, new: Objects, desired: dict[str, Any]) -> dict[str, Any]:
    """The live fingerprints after a plan ran; any object still not as desired is an
    error (raised inside the apply transaction: nothing is committed, nothing stale is
    recorded as applied)."""
    applied = {}
    found = catalog.inspect_all(pg, new)
    for k, obj in new.items():
        live = found[k]
        if live is None:
            raise ProviderError(f"{obj['kind']} {obj['identity']} cannot be found in the catalog after "
                                "applying its SQL (object names must be lower case and unquoted)")
        if not catalog.same(obj["kind"], live, desired[k]):
            raise ProviderError(f"{obj['kind']} {obj['identity']} still differs from its SQL after the plan ran "
                                f"({'; '.join(differences(live, desired[k]))})")
        applied[k] = live
    return applied
