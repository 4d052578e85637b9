"""ScriptTracking for every Pulumi language: the component served as a component
provider plugin (see plugin/ at the top of the repository), consumed from YAML or
through SDKs generated from its schema.

The schema is inferred by Pulumi's analyzer from the annotations below, which it
reads without evaluating strings (so no `from __future__ import annotations`
here) and which must be TypedDicts of plain types and pulumi.Inputs. The class
only maps these inputs onto ScriptTrackingArgs: the component itself, its
children and their provider are the ones Python programs use.
"""

import dataclasses
import sys
from typing import NotRequired, Optional, TypedDict

import pulumi
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from .desired import Settings, SettingsError, whole_number
from .tracking import ConnectionArgs, ScriptTrackingArgs
from .tracking import ScriptTracking as PythonScriptTracking

PACKAGE = "script-tracking"  # the type token's package: script-tracking:index:ScriptTracking


class Connection(TypedDict):
    """How to reach the database."""

    host: pulumi.Input[str]
    """Host name or address of the PostgreSQL server."""
    port: pulumi.Input[int]
    """Port of the server."""
    database: pulumi.Input[str]
    """The database to install the tracking system into."""
    username: pulumi.Input[str]
    """The login that applies: a superuser when trackDdl is on or ownerRole is set."""
    password: pulumi.Input[str]
    """Its password: pass a secret."""
    sslmode: NotRequired[pulumi.Input[str]]
    """disable, allow, prefer (default), require, verify-ca or verify-full."""
    lock_timeout_ms: NotRequired[pulumi.Input[int]]
    """How long an apply waits for a lock (default 5000)."""
    statement_timeout_ms: NotRequired[pulumi.Input[int]]
    """The longest statement of an apply (default 60000)."""


class ScriptTrackingInputs(TypedDict):
    """An installation of the script tracking system in one database."""

    connection: Connection
    """How to reach the database."""
    track_ddl: NotRequired[bool]
    """Install the event triggers that record every DDL command (default true)."""
    owner_role: NotRequired[pulumi.Input[str]]
    """The NOLOGIN role that owns every object (default script_tracking_owner; "" = the login that applies).
    A plain name is a role the component manages; a value from another resource is a role made there."""
    writer_role: NotRequired[pulumi.Input[str]]
    """The role granted track_operation and complete_operation (default script_tracking_writer); plain or
    from another resource, as ownerRole."""
    reader_role: NotRequired[pulumi.Input[str]]
    """The role granted get_execution_history and ddl_history (default script_tracking_reader); plain or
    from another resource, as ownerRole."""
    ddl_include_schemas: NotRequired[list[str]]
    """Schemas the DDL tracker records (default: all)."""
    ddl_exclude_schemas: NotRequired[list[str]]
    """Schemas the DDL tracker ignores."""
    ddl_include_tags: NotRequired[list[str]]
    """Command tags the DDL tracker records, such as CREATE TABLE (default: all)."""
    ddl_exclude_tags: NotRequired[list[str]]
    """Command tags the DDL tracker ignores."""
    max_script_name_chars: NotRequired[int]
    """Longest script name track_operation takes (1..255, default 255; SQLSTATE ST002)."""
    max_details_bytes: NotRequired[int]
    """Largest details JSON track_operation takes, in bytes as text (default 65536; ST007)."""
    max_error_message_chars: NotRequired[int]
    """Longest error message complete_operation takes (default 65536; ST008)."""
    retention_days: NotRequired[int]
    """Age in days (1..36500) at which script_tracking.purge_executions() purges executions (default: no
    retention; schedule the purge yourself, see docs/sql.md)."""
    preflight: NotRequired[bool]
    """Check at preview that the server answers and the login has the privileges needed (default true)."""


ROLE_FIELDS = ("owner_role", "writer_role", "reader_role")
# Inputs that are Settings fields (plain values: they decide which objects exist); the
# package's own sql/ is the only one a plugin offers
SETTING_FIELDS = tuple(f.name for f in dataclasses.fields(Settings) if f.name not in (*ROLE_FIELDS, "sql_dir"))


def to_args(inputs: ScriptTrackingInputs) -> ScriptTrackingArgs:
    """The component's Python arguments for the plugin's inputs. A role given as a plain
    name is a setting (the component manages that role); one that is an Output is a role
    made elsewhere, passed in."""
    settings = {k: whole_number(inputs[k]) for k in SETTING_FIELDS if k in inputs}
    given = {}
    for k in ROLE_FIELDS:
        if isinstance(inputs.get(k), str):
            settings[k] = inputs[k]
        elif k in inputs:
            given[k] = inputs[k]
    return ScriptTrackingArgs(connection=ConnectionArgs(**inputs["connection"]), settings=Settings(**settings),
                              preflight=inputs.get("preflight", True), **given)


class ScriptTracking(PythonScriptTracking):
    """The script tracking system in one PostgreSQL database: tables that log every script
    execution and DDL command, the tracking functions, roles and event triggers, managed as
    Pulumi resources."""

    # the outputs of the Python component, documented here for the schema (the analyzer
    # reads docstrings from this class's own source)
    schemas: pulumi.Output[list[str]]
    """The schemas the system lives in."""
    functions: pulumi.Output[list[str]]
    """Every function of the system, with its argument types."""
    owner_role: pulumi.Output[str]
    """The role that owns the objects ("" when the applying login does)."""
    writer_role: pulumi.Output[str]
    """The role to grant to logins that track scripts."""
    reader_role: pulumi.Output[str]
    """The role to grant to logins that read the history."""
    track_ddl: pulumi.Output[bool]
    """Whether the event triggers record DDL."""

    def __init__(self, name: str, args: ScriptTrackingInputs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(name, to_args(args), opts)


CONNECTION_FIELDS = {f.name for f in dataclasses.fields(ConnectionArgs)}


def input_path(field: str) -> str:
    """The schema's name of a Python field (a SettingsError's), as a property path."""
    head, *rest = field.split("_")
    name = head + "".join(w.title() for w in rest)
    return f"connection.{name}" if field in CONNECTION_FIELDS else name


class Provider(ComponentProvider):
    """Pulumi's component provider, with a bad input reported as that input's error (one
    line naming it) instead of an exception with a traceback."""

    def construct(self, name, resource_type, inputs, options=None):
        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as exc:
            if isinstance(exc.inner, SettingsError):
                raise InputPropertyError(input_path(exc.inner.field), exc.inner.problem) from None
            raise


def main() -> None:
    """Serve the component (plugin/__main__.py runs this); what component_provider_host
    does, with our Provider."""
    from importlib.metadata import version

    from pulumi.provider import main as serve

    serve(Provider([ScriptTracking], PACKAGE, None, version("script-tracking")), sys.argv[1:])
