"""The ScriptTracking component under Pulumi mocks (no engine, no database):
which resources it declares, their types and names, parents, dependencies,
secrets, and what trackDdl and the role settings change.

The mock monitor's own records carry only (urn, id, state); the parent, the
dependencies and the secret markers of a registration are read from the
RegisterResource requests themselves, which a MockMonitor subclass records."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor

from components import ConnectionArgs, ScriptTracking, ScriptTrackingArgs, Settings
from components.desired import desired_objects
from components.tracking import TYPE_TOKEN

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
PASSWORD = "mock-password-6f1d2c"
T = "pulumi-python:dynamic/sql:"


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.requests: list[Any] = []

    def RegisterResource(self, request):
        self.requests.append(request)
        return super().RegisterResource(request)


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    secret_outputs: list[str]
    raw: dict          # the request's inputs as sent (secrets still wrapped)
    inputs: dict       # as the mock saw them (unwrapped)


def run(settings: Settings) -> tuple[list[Registered], dict]:
    mocks = Mocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="st", stack="unit", preview=False, monitor=monitor)
    outputs: dict = {}

    @pulumi.runtime.test
    def program():
        comp = ScriptTracking("tracking", ScriptTrackingArgs(
            connection=ConnectionArgs(host="db.example", port=5433, database="app", username="admin",
                                      password=pulumi.Output.secret(PASSWORD)),
            settings=settings))
        return pulumi.Output.all(comp.schemas, comp.functions, comp.writer_role, comp.reader_role,
                                 comp.track_ddl).apply(lambda v: outputs.update(zip(
                                     ("schemas", "functions", "writer", "reader", "track_ddl"), v)))

    program()
    regs = []
    for req in monitor.requests:
        if req.type == "pulumi:pulumi:Stack":
            continue
        urn = monitor.make_urn(req.parent, req.type, req.name)
        regs.append(Registered(
            type=req.type, name=req.name, urn=urn, parent=req.parent, dependencies=list(req.dependencies),
            secret_outputs=list(req.additionalSecretOutputs),
            raw=json_format.MessageToDict(req.object),
            inputs=monitor.resources[urn].state))
    return regs, outputs


@pytest.fixture(scope="module")
def on():
    return run(Settings(track_ddl=True))


@pytest.fixture(scope="module")
def off():
    return run(Settings(track_ddl=False))


def by_name(regs, type_suffix: str, name: str) -> Registered:
    found = [r for r in regs if r.type == T + type_suffix and r.name == name]
    assert len(found) == 1, (type_suffix, name, len(found))
    return found[0]


def test_one_component_and_one_resource_per_desired_object(on):
    regs, _ = on
    assert regs[0].type == TYPE_TOKEN == "script-tracking:index:ScriptTracking"
    assert regs[0].name == "tracking"
    want = [(T + "".join(p.capitalize() for p in o.kind.split("_")), o.identity)
            for o in desired_objects(Settings(track_ddl=True))]
    # registration order is the engine's (a resource registers once its dependencies have)
    assert sorted((r.type, r.name) for r in regs[1:]) == sorted(want)
    assert len(regs[1:]) == len(want)
    assert len({r.urn for r in regs}) == len(regs), "URNs are unique (a table and its rows differ by type)"


def test_type_tokens(on):
    regs, _ = on
    types = {r.type for r in regs[1:]}
    assert types == {T + n for n in ("Schema", "Role", "Table", "Sequence", "Index", "View", "Function",
                                     "EventTrigger", "Grant", "Data")}
    assert by_name(regs, "Function", "script_tracking.track_operation(text, text, jsonb)")
    assert by_name(regs, "Table", "script_tracking.ddl_tracker_filter")
    assert by_name(regs, "Data", "script_tracking.ddl_tracker_filter")


def test_every_child_is_parented_to_the_component(on):
    regs, _ = on
    comp = regs[0]
    assert comp.parent == "urn:pulumi:unit::st::pulumi:pulumi:Stack::st-unit"  # the stack
    for r in regs[1:]:
        assert r.parent == comp.urn, r.name
        assert r.urn.split("::")[2].startswith(TYPE_TOKEN + "$"), r.urn


def _deps(regs, r: Registered) -> set[tuple[str, str]]:
    urn_to = {x.urn: (x.type.removeprefix(T), x.name) for x in regs}
    return {urn_to[u] for u in r.dependencies}


def test_dependencies(on):
    regs, _ = on
    sat = by_name(regs, "Table", "script_tracking.script_execution_s")
    assert _deps(regs, sat) == {("Table", "script_tracking.script_execution_h"),
                                ("Sequence", "script_tracking.script_execution_version_seq"),
                                ("Schema", "script_tracking")}
    assert _deps(regs, by_name(regs, "Table", "script_tracking.script_execution_h")) == {
        ("Schema", "script_tracking")}
    wrapper = by_name(regs, "Function", "public.track_operation(text, text, jsonb)")
    assert _deps(regs, wrapper) == {("Function", "script_tracking.track_operation(text, text, jsonb)")}
    assert _deps(regs, by_name(regs, "EventTrigger", "auto_ddl_tracker")) == {
        ("Function", "script_tracking.ddl_tracker_command_end()")}
    # the filter rows wait for the filter table, not for themselves
    assert _deps(regs, by_name(regs, "Data", "script_tracking.ddl_tracker_filter")) == {
        ("Table", "script_tracking.ddl_tracker_filter")}
    # every dependency was registered before its dependent
    seen: set[str] = set()
    for r in regs:
        assert set(r.dependencies) <= seen, r.name
        seen.add(r.urn)


def test_grants_for_writer_and_reader(on):
    regs, _ = on
    grants = {r.name: r for r in regs if r.type == T + "Grant"}
    w, r = "script_tracking_writer", "script_tracking_reader"
    assert set(grants) == {
        f"{w}: USAGE on schema script_tracking",
        f"{w}: EXECUTE on function script_tracking.track_operation(text, text, jsonb)",
        f"{w}: EXECUTE on function script_tracking.complete_operation(bytea, boolean, text)",
        f"{w}: EXECUTE on function public.track_operation(text, text, jsonb)",
        f"{w}: EXECUTE on function public.complete_operation(bytea, boolean, text)",
        f"{r}: USAGE on schema script_tracking",
        f"{r}: EXECUTE on function script_tracking.get_execution_history"
        "(text, text, text, timestamptz, timestamptz, integer)",
        f"{r}: SELECT on table script_tracking.ddl_history",
    }
    g = grants[f"{w}: EXECUTE on function public.track_operation(text, text, jsonb)"]
    assert _deps(regs, g) == {("Role", w), ("Function", "public.track_operation(text, text, jsonb)")}
    assert g.inputs["statements"] == [
        'GRANT EXECUTE ON FUNCTION "public"."track_operation"(text, text, jsonb) TO "script_tracking_writer"']
    g = grants[f"{r}: SELECT on table script_tracking.ddl_history"]
    assert _deps(regs, g) == {("Role", r), ("View", "script_tracking.ddl_history")}
    g = grants[f"{r}: USAGE on schema script_tracking"]
    assert _deps(regs, g) == {("Role", r), ("Schema", "script_tracking")}
    # least privilege: util is reached only through definer functions
    assert not any(n.endswith("USAGE on schema util") for n in grants)
    # the reader cannot write, the writer cannot read history
    assert not any(n.startswith(r) and "track_operation" in n for n in grants)
    assert not any(n.startswith(w) and "get_execution_history" in n for n in grants)


def test_role_names_come_from_the_settings():
    regs, outputs = run(Settings(writer_role="app_writer", reader_role="app_reader"))
    roles = [r for r in regs if r.type == T + "Role"]
    assert [r.name for r in roles] == ["app_writer", "app_reader"]
    assert roles[0].inputs["statements"] == [
        'CREATE ROLE "app_writer" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT']
    grants = [r.name for r in regs if r.type == T + "Grant"]
    assert len(grants) == 8 and all(g.startswith(("app_writer: ", "app_reader: ")) for g in grants)
    assert (outputs["writer"], outputs["reader"]) == ("app_writer", "app_reader")


def test_track_ddl_switches_exactly_the_two_event_triggers(on, off):
    regs_on, out_on = on
    regs_off, out_off = off
    names_on = {(r.type, r.name) for r in regs_on}
    names_off = {(r.type, r.name) for r in regs_off}
    assert names_off < names_on
    assert names_on - names_off == {(T + "EventTrigger", "auto_ddl_tracker"),
                                    (T + "EventTrigger", "auto_ddl_tracker_drop")}
    # everything else is declared identically
    same = {(r.type, r.name): r.inputs["statements"] for r in regs_off[1:]}
    assert all(r.inputs["statements"] == same[(r.type, r.name)] for r in regs_on[1:] if (r.type, r.name) in same)
    assert (out_on["track_ddl"], out_off["track_ddl"]) == (True, False)
    et = by_name(regs_on, "EventTrigger", "auto_ddl_tracker_drop")
    assert et.inputs["kind"] == "event_trigger" and et.inputs["statements"][0].startswith("CREATE EVENT TRIGGER")


def test_connection_input_is_secret_and_hidden_in_outputs(on):
    regs, _ = on
    for r in regs[1:]:
        conn = r.raw["connection"]
        assert conn.get("4dabf18193072939515e22adb298388d") == SECRET_SIG, r.name  # a secret value
        assert conn["value"]["password"] == PASSWORD and conn["value"]["host"] == "db.example"
        assert conn["value"]["port"] == 5433 and conn["value"]["lockTimeoutMs"] == 5000
        assert "connection" in r.secret_outputs, r.name
        # nothing else carries the password in the clear
        clear = {k: v for k, v in r.raw.items() if k != "connection"}
        assert PASSWORD not in json.dumps(clear), r.name


def test_serialized_provider_is_plain_and_holds_no_credentials(on):
    regs, _ = on
    blobs = {r.raw["__provider"] for r in regs[1:]}
    assert len(blobs) == 1, "one provider for every resource"
    blob = blobs.pop()
    assert isinstance(blob, str), "not wrapped as a secret"
    raw = base64.b64decode(blob)
    for needle in (PASSWORD, "db.example", "admin"):
        assert needle.encode() not in raw


def test_resource_inputs_are_the_desired_objects(on):
    regs, _ = on
    regs_by = {(r.inputs["kind"], r.name): r for r in regs[1:]}
    for o in desired_objects(Settings(track_ddl=True)):
        r = regs_by[(o.kind, o.identity)]
        assert r.inputs["identity"] == o.identity
        assert r.inputs["statements"] == list(o.statements)
        assert r.inputs.get("applied") is None and r.inputs.get("fingerprint") is None


def test_component_outputs(on):
    _, outputs = on
    assert outputs["schemas"] == ["script_tracking", "util"]
    assert outputs["functions"] == [o.identity for o in desired_objects(Settings()) if o.kind == "function"]
    assert (outputs["writer"], outputs["reader"]) == ("script_tracking_writer", "script_tracking_reader")


def test_sql_the_provider_cannot_manage_stops_the_program(tmp_path):
    from components.sqlsource import OBJECT_FILES, SQL_DIR, TRIGGER_FILES, SqlSourceError
    for f in OBJECT_FILES + TRIGGER_FILES:
        (tmp_path / f).write_text((SQL_DIR / f).read_text())
    with (tmp_path / "10_audit.sql").open("a") as f:
        f.write("\nINSERT INTO util.audit_log (event_type, resource_type) VALUES ('x', 'y');\n")
    with pytest.raises(SqlSourceError, match="unsupported statement InsertStmt"):
        run(Settings(sql_dir=tmp_path))


def test_a_role_named_like_a_schema_is_still_its_own_dependency():
    regs, _ = run(Settings(writer_role="util", reader_role="st_reader"))
    grant = next(r for r in regs if r.type == T + "Grant" and r.name == "util: USAGE on schema script_tracking")
    assert ("Role", "util") in _deps(regs, grant)
