"""The ScriptTracking component under Pulumi mocks (no engine, no database):
which resources it declares, their types and names, parents, dependencies,
secrets, many instances in one program, connections and roles passed as other
resources' outputs (pulumi_postgresql's real SDK), and outputs that carry the
dependencies of the resources that make them.

What a program registers is recorded by tests/unit/mocking.py."""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_postgresql
import pytest

from script_tracking import ConnectionArgs, ScriptTracking, ScriptTrackingArgs, Settings, SettingsError
from script_tracking.desired import desired_objects
from script_tracking.tracking import TYPE_TOKEN

from tests.conftest import REPO

from .mocking import Registered, run_program

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
PASSWORD = "mock-password-6f1d2c"
T = "pulumi-python:dynamic/sql:"


def connection(database: str = "app", **kw) -> ConnectionArgs:
    return ConnectionArgs(**{"host": "db.example", "port": 5433, "database": database, "username": "admin",
                             "password": pulumi.Output.secret(PASSWORD), **kw})


def outputs_of(comp: ScriptTracking) -> pulumi.Output:
    return pulumi.Output.all(comp.schemas, comp.functions, comp.writer_role, comp.reader_role,
                             comp.track_ddl).apply(lambda v: dict(zip(
                                 ("schemas", "functions", "writer", "reader", "track_ddl"), v)))


def run(settings: Settings) -> tuple[list[Registered], dict]:
    return run_program(lambda: outputs_of(ScriptTracking(
        "tracking", ScriptTrackingArgs(connection=connection(), settings=settings))))


@pytest.fixture(scope="module")
def on():
    return run(Settings(track_ddl=True))


@pytest.fixture(scope="module")
def off():
    return run(Settings(track_ddl=False))


def one(regs, type_suffix: str, name: str) -> Registered:
    found = [r for r in regs if r.type == T + type_suffix and r.name == name]
    assert len(found) == 1, (type_suffix, name, len(found))
    return found[0]


def test_a_component_with_three_roles_and_the_objects_of_its_database(on):
    regs, _ = on
    assert regs[0].type == TYPE_TOKEN == "script-tracking:index:ScriptTracking"
    assert regs[0].name == "tracking"
    assert sorted((r.type, r.name) for r in regs[1:]) == [
        (T + "Objects", "tracking-objects"), (T + "Role", "tracking-owner"), (T + "Role", "tracking-reader"),
        (T + "Role", "tracking-writer")]


def test_every_child_is_parented_to_the_component(on):
    regs, _ = on
    comp = regs[0]
    assert comp.parent.split("::")[2] == "pulumi:pulumi:Stack"  # the stack
    for r in regs[1:]:
        assert r.parent == comp.urn, r.name
        assert r.urn.split("::")[2].startswith(TYPE_TOKEN + "$"), r.urn


def test_objects_are_the_desired_objects_by_key(on):
    regs, _ = on
    objects = one(regs, "Objects", "tracking-objects").inputs["objects"]
    desired = [o for o in desired_objects(Settings()) if o.kind != "role"]
    assert set(objects) == {o.key for o in desired} and len(objects) == len(desired)
    for o in desired:
        assert objects[o.key] == {"kind": o.kind, "identity": o.identity, "statements": list(o.statements),
                                  "dependsOn": list(o.depends_on)}, o.key
    # the count the README gives
    assert f"`sql:Objects` is every object of the system in that database ({len(objects)} of them" in \
        " ".join((REPO / "README.md").read_text().split())
    # a table and its filter rows are two objects
    assert objects["script_tracking.ddl_tracker_filter"]["kind"] == "table"
    assert objects["script_tracking.ddl_tracker_filter rows"]["kind"] == "data"


def test_roles_and_what_depends_on_them(on):
    regs, _ = on
    owner = one(regs, "Role", "tracking-owner")
    writer, reader = one(regs, "Role", "tracking-writer"), one(regs, "Role", "tracking-reader")
    assert writer.inputs["objects"] == {"script_tracking_writer": {
        "kind": "role", "identity": "script_tracking_writer", "dependsOn": [],
        "statements": ['CREATE ROLE "script_tracking_writer" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT']}}
    assert reader.inputs["objects"]["script_tracking_reader"]["kind"] == "role"
    assert writer.inputs["preflight"] is False
    objects = one(regs, "Objects", "tracking-objects")
    assert set(objects.dependencies) == {owner.urn, writer.urn, reader.urn}
    assert objects.inputs["preflight"] is True


def test_grants_for_writer_and_reader(on):
    regs, _ = on
    objects = one(regs, "Objects", "tracking-objects").inputs["objects"]
    grants = {k: o for k, o in objects.items() if o["kind"] == "grant"}
    assert set(grants) == {
        "writer: USAGE on schema script_tracking",
        "writer: EXECUTE on function script_tracking.track_operation(text, text, jsonb)",
        "writer: EXECUTE on function script_tracking.complete_operation(bytea, boolean, text)",
        "writer: EXECUTE on function public.track_operation(text, text, jsonb)",
        "writer: EXECUTE on function public.complete_operation(bytea, boolean, text)",
        "reader: USAGE on schema script_tracking",
        "reader: EXECUTE on function script_tracking.get_execution_history"
        "(text, text, text, timestamptz, timestamptz, integer)",
        "reader: SELECT on table script_tracking.ddl_history",
    }
    g = grants["writer: EXECUTE on function public.track_operation(text, text, jsonb)"]
    assert g["statements"] == [
        'GRANT EXECUTE ON FUNCTION "public"."track_operation"(text, text, jsonb) TO "script_tracking_writer"']
    assert g["dependsOn"] == ["public.track_operation(text, text, jsonb)"]
    assert grants["reader: SELECT on table script_tracking.ddl_history"]["dependsOn"] == ["script_tracking.ddl_history"]
    # least privilege: util is reached only through definer functions
    assert not any(k.endswith("USAGE on schema util") for k in grants)
    assert not any(k.startswith("reader") and "track_operation" in k for k in grants)
    assert not any(k.startswith("writer") and "get_execution_history" in k for k in grants)


def test_role_names_come_from_the_settings():
    regs, outputs = run(Settings(owner_role="app_owner", writer_role="app_writer", reader_role="app_reader"))
    roles = [r for r in regs if r.type == T + "Role"]
    assert sorted(list(r.inputs["objects"]) for r in roles) == [["app_owner"], ["app_reader"], ["app_writer"]]
    owners = [o for o in one(regs, "Objects", "tracking-objects").inputs["objects"].values() if o["kind"] == "owner"]
    assert len(owners) > 20 and all(o["statements"][0].endswith(' OWNER TO "app_owner"') for o in owners)
    grants = [o for o in one(regs, "Objects", "tracking-objects").inputs["objects"].values() if o["kind"] == "grant"]
    assert len(grants) == 8 and all(g["statements"][0].endswith(('TO "app_writer"', 'TO "app_reader"'))
                                    for g in grants)
    assert (outputs["writer"], outputs["reader"]) == ("app_writer", "app_reader")


def test_track_ddl_switches_exactly_the_two_event_triggers(on, off):
    on_objects = one(on[0], "Objects", "tracking-objects").inputs["objects"]
    off_objects = one(off[0], "Objects", "tracking-objects").inputs["objects"]
    assert set(on_objects) - set(off_objects) == {"auto_ddl_tracker", "auto_ddl_tracker_drop"}
    assert all(on_objects[k] == v for k, v in off_objects.items())
    assert (on[1]["track_ddl"], off[1]["track_ddl"]) == (True, False)


def test_connection_input_is_secret_and_hidden_in_outputs(on):
    regs, _ = on
    for r in regs[1:]:
        conn = r.raw["connection"]
        assert conn.get("4dabf18193072939515e22adb298388d") == SECRET_SIG, r.name  # a secret value
        assert conn["value"]["password"] == PASSWORD and conn["value"]["host"] == "db.example"
        assert conn["value"]["port"] == 5433 and conn["value"]["lockTimeoutMs"] == 5000
        assert "connection" in r.secret_outputs, r.name
        clear = {k: v for k, v in r.raw.items() if k != "connection"}
        assert PASSWORD not in json.dumps(clear), r.name


def test_serialized_provider_is_plain_and_holds_no_credentials(on):
    regs, _ = on
    blobs = {r.raw["__provider"] for r in regs[1:]}
    assert len(blobs) == 1, "one provider for every resource"
    blob = blobs.pop()
    assert isinstance(blob, str), "not wrapped as a secret"
    raw = base64.b64decode(blob)
    assert b"script_tracking.provider" in raw and b"ObjectSetProvider" in raw
    for needle in (PASSWORD, "db.example", "admin"):
        assert needle.encode() not in raw


def test_component_outputs(on):
    _, outputs = on
    assert outputs["schemas"] == ["script_tracking", "util"]
    assert outputs["functions"] == [o.identity for o in desired_objects(Settings()) if o.kind == "function"]
    assert (outputs["writer"], outputs["reader"]) == ("script_tracking_writer", "script_tracking_reader")


def test_outputs_carry_the_dependencies_of_the_resources_that_make_them():
    """A consumer's resource that takes an output waits for what produced it."""
    def program():
        comp = ScriptTracking("tracking", ScriptTrackingArgs(connection=connection()))
        consumer = pulumi.CustomResource("test:index:Consumer", "consumer", {
            "writer": comp.writer_role, "reader": comp.reader_role, "schemas": comp.schemas,
            "functions": comp.functions})
        return consumer.urn

    regs, _ = run_program(program)
    urn = {r.name: r.urn for r in regs}
    consumer = next(r for r in regs if r.name == "consumer")
    assert {urn["tracking-writer"], urn["tracking-reader"], urn["tracking-objects"]} <= set(consumer.dependencies)


def test_two_databases_in_one_program_coexist():
    def program():
        a = ScriptTracking("a", ScriptTrackingArgs(connection=connection("app_a")))
        b = ScriptTracking("b", ScriptTrackingArgs(connection=connection("app_b")))
        return pulumi.Output.all(a.schemas, b.schemas)

    regs, schemas = run_program(program)
    assert len({r.urn for r in regs}) == len(regs) == 10
    assert {r.name for r in regs if r.type == T + "Objects"} == {"a-objects", "b-objects"}
    parents = {r.name: r.parent for r in regs}
    comps = {r.name: r.urn for r in regs if r.type == TYPE_TOKEN}
    assert parents["a-writer"] == comps["a"] and parents["b-writer"] == comps["b"]
    assert schemas == [["script_tracking", "util"]] * 2


def test_a_second_installation_into_the_same_database_is_refused():
    def program():
        ScriptTracking("first", ScriptTrackingArgs(connection=connection("app")))
        ScriptTracking("second", ScriptTrackingArgs(connection=connection("app")))

    with pytest.raises(SettingsError, match="ScriptTracking 'second' and 'first' both install into "
                                            "db.example:5433/app: one installation per database"):
        run_program(program)


def test_connection_from_another_resources_outputs():
    """The database made in the same program: its outputs are the connection."""
    def program():
        database = pulumi_postgresql.Database("appdb", name="appdb")
        comp = ScriptTracking("tracking", ScriptTrackingArgs(connection=ConnectionArgs(
            host=database.id.apply(lambda _: "made.example"), port=pulumi.Output.from_input(6543),
            database=database.name, username="admin", password=pulumi.Output.secret(PASSWORD))))
        return comp.schemas

    regs, schemas = run_program(program)
    db_urn = next(r.urn for r in regs if r.type == "postgresql:index/database:Database")
    for r in regs:
        if r.type.startswith(T):
            assert db_urn in r.dependencies, r.name
            conn = r.raw["connection"]["value"]
            assert conn["host"] == "made.example" and conn["database"] == "appdb"
            assert conn["port"] == 6543
    assert schemas == ["script_tracking", "util"]


def test_roles_made_with_pulumi_postgresql_are_granted_not_managed():
    def program():
        owner = pulumi_postgresql.Role("app-owner", name="app_owner")
        writer = pulumi_postgresql.Role("app-writer", name="app_writer")
        reader = pulumi_postgresql.Role("app-reader", name="app_reader")
        comp = ScriptTracking("tracking", ScriptTrackingArgs(
            connection=connection(), owner_role=owner.name, writer_role=writer.name, reader_role=reader.name))
        return pulumi.Output.all(comp.owner_role, comp.writer_role, comp.reader_role)

    regs, roles = run_program(program)
    assert roles == ["app_owner", "app_writer", "app_reader"]
    assert not [r for r in regs if r.type == T + "Role"], "no role of ours"
    pg_roles = {r.urn for r in regs if r.type == "postgresql:index/role:Role"}
    objects = one(regs, "Objects", "tracking-objects")
    assert pg_roles <= set(objects.dependencies)
    grants = [o for o in objects.inputs["objects"].values() if o["kind"] == "grant"]
    assert {g["statements"][0].rsplit(" TO ", 1)[1] for g in grants} == {'"app_writer"', '"app_reader"'}
    owners = [o for o in objects.inputs["objects"].values() if o["kind"] == "owner"]
    assert {o["statements"][0].rsplit(" TO ", 1)[1] for o in owners} == {'"app_owner"'}


@pytest.mark.parametrize("field, value, problem", [
    ("port", 0, "0 is outside 1..65535"),
    ("port", "not-a-port", "'not-a-port' is not a whole number"),
    ("sslmode", "sometimes", "'sometimes' is not one of"),
    ("host", "", "'' is not a non-empty string"),
    ("lock_timeout_ms", -1, "is not a whole number"),
])
def test_bad_connection_values_name_the_field(field, value, problem):
    with pytest.raises(SettingsError) as e:
        run_program(lambda: ScriptTracking("t", ScriptTrackingArgs(connection=connection(**{field: value}))))
    assert e.value.field == field and problem in e.value.problem


def test_sql_the_provider_cannot_manage_stops_the_program(tmp_path):
    from script_tracking.sqlsource import OBJECT_FILES, SQL_DIR, TRIGGER_FILES
    for f in OBJECT_FILES + TRIGGER_FILES:
        (tmp_path / f).write_text((SQL_DIR / f).read_text())
    with (tmp_path / "10_audit.sql").open("a") as f:
        f.write("\nUPDATE util.audit_log SET event_type = 'x';\n")
    # a SettingsError (one line, no traceback) that names the setting and the file
    with pytest.raises(SettingsError, match=r"sql_dir: .*: 10_audit\.sql: unsupported statement UpdateStmt") as exc:
        run(Settings(sql_dir=tmp_path))
    assert exc.value.field == "sql_dir"
    (tmp_path / "10_audit.sql").write_text((SQL_DIR / "10_audit.sql").read_text())
    (tmp_path / "20_tracking.sql").unlink()
    with pytest.raises(SettingsError, match=r"sql_dir: No such file or directory: .*/20_tracking\.sql"):
        run(Settings(sql_dir=tmp_path))


def test_a_bad_value_known_only_later_names_the_installation():
    """An Output's value is checked once known; the provider's check reports it,
    naming the installation (through the real CLI: tests/e2e/test_consumer.py)."""
    from script_tracking.provider import ObjectSetProvider

    regs, _ = run_program(lambda: ScriptTracking("late", ScriptTrackingArgs(
        connection=connection(port=pulumi.Output.from_input(0)))).schemas)
    for r in regs[1:]:
        conn = r.raw["connection"]["value"]
        assert conn == {"invalid": "ScriptTracking 'late': port: 0 is outside 1..65535"}, r.name
        failures = ObjectSetProvider().check({}, {**r.inputs, "connection": conn}).failures
        assert [(f.property, f.reason) for f in failures] == [("", conn["invalid"])]


def test_without_an_owner_role_the_applying_login_keeps_ownership():
    regs, _ = run(Settings(owner_role=""))
    assert sorted(r.name for r in regs if r.type == T + "Role") == ["tracking-reader", "tracking-writer"]
    objects = one(regs, "Objects", "tracking-objects").inputs["objects"]
    assert not [o for o in objects.values() if o["kind"] == "owner"]


@pytest.mark.parametrize("settings, problem", [
    (dict(owner_role="Robert'); DROP"), "owner_role: \"Robert'); DROP\" is not a valid role name"),
    (dict(owner_role="script_tracking_writer"), "owner_role: 'script_tracking_writer' is also the writer role"),
])
def test_a_bad_owner_role_is_one_line_naming_the_setting(settings, problem):
    with pytest.raises(SettingsError) as exc:
        Settings(**settings)
    assert str(exc.value).startswith(problem)


@pytest.mark.parametrize("field, value", [("max_script_name_chars", 256), ("max_details_bytes", 0),
                                          ("max_error_message_chars", "big"), ("retention_days", 0),
                                          ("retention_days", 36501)])
def test_a_limit_out_of_range_is_one_line_naming_the_setting(field, value):
    with pytest.raises(SettingsError) as exc:
        Settings(**{field: value})
    assert str(exc.value).startswith(f"{field}: {value!r} is not a whole number in 1..")
