"""The component plugin's schema (what other languages see) against the Python
arguments: the same fields, required exactly where Python requires them, typed
outputs. Pulumi's own analyzer infers the schema, as the plugin does."""

from __future__ import annotations

import dataclasses

from pulumi.provider.experimental.analyzer import Analyzer

from script_tracking import ConnectionArgs, ScriptTrackingArgs, Settings
from script_tracking.plugin import PACKAGE, ScriptTracking, to_args


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def required(cls) -> dict[str, bool]:
    """camelCase field -> whether Python requires it (no default)."""
    return {camel(f.name): f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            for f in dataclasses.fields(cls)}


def analyzed():
    result = Analyzer(PACKAGE).analyze([ScriptTracking])
    return result["component_definitions"]["ScriptTracking"], result["type_definitions"]


def test_inputs_are_required_exactly_where_python_requires_them():
    component, types = analyzed()
    schema = {k: not p.optional for k, p in component.inputs.items()}
    python = {**{k: v for k, v in required(ScriptTrackingArgs).items() if k != "settings"},
              **{k: v for k, v in required(Settings).items() if k != "sqlDir"}}  # sql/ is the package's
    assert schema == python
    connection = types["Connection"]
    assert {k: not p.optional for k, p in connection.properties.items()} == \
        {k: v for k, v in required(ConnectionArgs).items() if k != "passwordConfig"}  # a Python program's config key


def test_every_input_and_output_is_documented_and_outputs_are_typed():
    component, types = analyzed()
    assert component.description and component.description.startswith("The script tracking system")
    for name, prop in [*component.inputs.items(), *types["Connection"].properties.items()]:
        assert prop.description, name
    outputs = {k: (p.type.value if p.type else None, p.items.type.value if p.items else None)
               for k, p in component.outputs.items()}
    assert outputs == {"schemas": ("array", "string"), "functions": ("array", "string"), "ownerRole": ("string", None),
                       "writerRole": ("string", None), "readerRole": ("string", None), "trackDdl": ("boolean", None)}


def test_inputs_map_onto_the_python_arguments():
    import pulumi
    given_reader = pulumi.Output.from_input("made_elsewhere")
    args = to_args({"connection": {"host": "h", "port": 5432, "database": "d", "username": "u", "password": "p"},
                    "track_ddl": False, "owner_role": "", "writer_role": "w", "reader_role": given_reader,
                    "max_details_bytes": 100.0, "preflight": False})  # numbers arrive as doubles
    assert args.settings == Settings(track_ddl=False, owner_role="", writer_role="w", max_details_bytes=100)
    assert args.reader_role is given_reader and args.writer_role is None and args.preflight is False
    assert args.connection == ConnectionArgs(host="h", port=5432, database="d", username="u", password="p")


def test_every_input_reaches_the_python_arguments():
    component, _ = analyzed()
    python_names = set(component.inputs_mapping.values())
    from script_tracking.plugin import ROLE_FIELDS, SETTING_FIELDS
    assert python_names == {"connection", "preflight", *ROLE_FIELDS, *SETTING_FIELDS}
