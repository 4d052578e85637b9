"""Move a stack made by script-tracking 0.1 to this release, changing nothing in
the database.

Release 0.1 kept one resource per database object (`sql:Table`, `sql:Function`,
... named by the object's identity, provider `components.provider`). This
release keeps, per installation, one `sql:Objects` resource for the objects of
the database and one `sql:Role` for each role. Pulumi aliases cannot merge many
resources into one, so the stack's state is rewritten instead: exported, each
old resource's recorded SQL, catalog fingerprints, adoption and (still
encrypted) connection carried into the new resources, imported. The next
preview then shows no change, and refresh and destroy work on the result.

    python -m script_tracking.upgrade --stack NAME   (in the project's directory)

It does nothing to a stack that has no 0.1 resources; `make up` and friends run it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pulumi.dynamic.dynamic import serialize_provider

from .catalog import grant_params
from .provider import MISSING, Objects, Role, _PROVIDER
from .sqlsource import object_key, references
from .tracking import TYPE_TOKEN

DYNAMIC = "pulumi-python:dynamic/sql:"
ROLE_TYPE, OBJECTS_TYPE = (f"pulumi-python:{cls._resource_type_name}" for cls in (Role, Objects))


class UpgradeError(Exception):
    """The stack cannot be upgraded as it is; nothing was changed."""


# the fields a new resource's state takes from an old one; the rest (ids, inputs,
# outputs, dependencies) is made anew, and flags such as protect or delete are not carried
CARRIED = ("custom", "provider", "additionalSecretOutputs", "created", "modified")


def _is_legacy(resource: dict) -> bool:
    # pending deletions of an earlier failed run are left as they are
    return resource.get("type", "").startswith(DYNAMIC) and "kind" in (resource.get("inputs") or {}) \
        and "objects" not in (resource.get("inputs") or {}) and not resource.get("delete")


def _is_new(resource: dict) -> bool:
    return resource.get("type") in (ROLE_TYPE, OBJECTS_TYPE)


def _child_urn(parent_urn: str, type_: str, name: str) -> str:
    prefix, _, parent_type_and_name = parent_urn.rpartition("::")
    prefix, _, parent_type = prefix.rpartition("::")
    return f"{prefix}::{parent_type}${type_}::{name}"


def _object(inputs: dict, identity: str, depends_on: list[str]) -> dict:
    return {"kind": inputs["kind"], "identity": identity, "statements": inputs["statements"],
            "dependsOn": depends_on}


def _dependencies(members: list[tuple[str, dict]]) -> dict[str, list[str]]:
    """key -> keys it depends on, as script_tracking.desired declares them: what its
    CREATE names (sqlsource), its schema; a grant its target, rows their table."""
    sources = {r["inputs"]["identity"]: r["inputs"] for _, r in members
               if r["inputs"]["kind"] not in ("schema", "grant", "data")}
    named = references({i: list(p["statements"]) for i, p in sources.items()})
    schemas = {r["inputs"]["identity"] for _, r in members if r["inputs"]["kind"] == "schema"}
    out = {}
    for key, r in members:
        kind, identity = r["inputs"]["kind"], r["inputs"]["identity"]
        if kind == "grant":
            out[key] = [grant_params(r["inputs"]["statements"][0])["target"]]
        elif kind == "data":
            out[key] = [identity]
        elif kind == "schema":
            out[key] = []
        else:
            schema = identity.partition("(")[0].split(".")[0] if "." in identity.partition("(")[0] else None
            out[key] = [*named.get(identity, ()), *([schema] if schema in schemas else [])]
    return out


def _slots(roles: list[dict], grants: list[dict]) -> dict[str, str]:
    """role name -> writer/reader. The writer is the role granted track_operation."""
    writers = {grant_params(g["inputs"]["statements"][0])["role"] for g in grants
               if "track_operation" in g["inputs"]["identity"]}
    return {r["inputs"]["identity"]: "writer" if r["inputs"]["identity"] in writers else "reader" for r in roles}


def _set_state(template: dict, urn: str, type_: str, parent: str, objects: dict[str, dict],
               members: list[tuple[str, dict]], preflight: bool, dependencies: list[str]) -> dict:
    """A new resource's state from old resources (`members`: key -> old resource)."""
    applied = {k: r["outputs"].get("applied") for k, r in members}
    drift = {k: (MISSING if r["outputs"].get("fingerprint") is None else r["outputs"]["fingerprint"])
             for k, r in members if r["outputs"].get("fingerprint") != r["outputs"].get("applied")}
    provider = serialize_provider(_PROVIDER)
    connection_in, connection_out = template["inputs"]["connection"], template["outputs"]["connection"]
    inputs = {"objects": objects, "connection": connection_in, "preflight": preflight, "__provider": provider}
    outputs = {**inputs, "connection": connection_out, "applied": applied,
               "adopted": sorted(k for k, r in members if r["outputs"].get("adopted")), "retained": {},
               "drift": drift}
    state = {k: template[k] for k in CARRIED if k in template}
    return {**state, "urn": urn, "id": members[0][1]["id"] + "-upgraded", "type": type_, "parent": parent,
            "inputs": inputs, "outputs": outputs, "dependencies": dependencies,
            "propertyDependencies": {"objects": dependencies} if dependencies else {}}


def upgrade_deployment(deployment: dict) -> tuple[dict, int]:
    """The deployment with every 0.1 installation moved to this release's resources,
    and how many old resources were moved."""
    resources = deployment.get("resources") or []
    legacy = [r for r in resources if _is_legacy(r)]
    if not legacy:
        return deployment, 0
    components = {r["urn"]: r for r in resources if r.get("type") == TYPE_TOKEN}
    by_parent: dict[str, list[dict]] = {}
    for r in legacy:
        if r.get("parent") not in components:
            raise UpgradeError(f"{r['urn']}: a 0.1 resource outside a ScriptTracking component")
        by_parent.setdefault(r["parent"], []).append(r)

    replacement: dict[str, list[dict]] = {}
    for parent, members in by_parent.items():
        name = parent.rpartition("::")[2]
        roles = [r for r in members if r["inputs"]["kind"] == "role"]
        grants = [r for r in members if r["inputs"]["kind"] == "grant"]
        slots = _slots(roles, grants)
        new: list[dict] = []
        for role in roles:
            identity = role["inputs"]["identity"]
            new.append(_set_state(role, _child_urn(parent, ROLE_TYPE, f"{name}-{slots[identity]}"),
                                  ROLE_TYPE, parent, {identity: _object(role["inputs"], identity, [])},
                                  [(identity, role)], False, []))
        keyed: list[tuple[str, dict]] = []
        for r in members:
            kind, identity = r["inputs"]["kind"], r["inputs"]["identity"]
            if kind == "role":
                continue
            if kind == "grant":
                role = grant_params(r["inputs"]["statements"][0])["role"]
                identity = f"{slots[role]}{identity[len(role):]}"
            keyed.append((object_key(kind, identity), r))
        depends = _dependencies(keyed)
        objects = {k: _object(r["inputs"], r["inputs"]["identity"] if r["inputs"]["kind"] != "grant" else k,
                              depends[k]) for k, r in keyed}
        new.append(_set_state(keyed[0][1], _child_urn(parent, OBJECTS_TYPE, f"{name}-objects"),
                              OBJECTS_TYPE, parent, objects, keyed, True,
                              [n["urn"] for n in new]))
        replacement[parent] = new

    out, moved, upgraded = [], 0, set(replacement)
    for r in resources:
        if _is_new(r) and r.get("parent") in upgraded:
            continue  # made by a plain `up` of this release before the upgrade: made anew here
        if not _is_legacy(r):
            out.append(r)
            continue
        moved += 1
        # the new resources where their first old one was: after their component and provider
        out += replacement.pop(r["parent"], [])
    return {**deployment, "resources": out}, moved


def _pulumi(*args: str, stdin: str | None = None) -> str:
    r = subprocess.run(["pulumi", *args], capture_output=True, text=True, input=stdin)
    if r.returncode != 0:
        raise UpgradeError(f"pulumi {args[0]} {args[1]}: {(r.stderr or r.stdout).strip()}")
    return r.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m script_tracking.upgrade", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    try:
        exported = json.loads(_pulumi("stack", "export", "--stack", args.stack))
        deployment, moved = upgrade_deployment(exported.get("deployment") or {})
        if not moved:
            return 0
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({**exported, "deployment": deployment}, f)
            f.flush()
            _pulumi("stack", "import", "--stack", args.stack, "--file", f.name, "--force")
    except (UpgradeError, OSError, ValueError, KeyError) as exc:
        print(f"script-tracking upgrade of stack {args.stack}: {exc}", file=sys.stderr)
        return 1
    print(f"script-tracking: stack {args.stack} upgraded from release 0.1 ({moved} resources moved, "
          "no database change)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
