"""ScriptTracking: the whole tracking system in one Pulumi component.

Children (all parented to the component, in dependency order): the `util` and
`script_tracking` schemas, the writer and reader roles and their grants, one
resource per object of sql/ (tables, sequences, indexes, functions, the view,
the DDL tracker's functions), the event triggers when `track_ddl` is on, and the
DDL tracker's filter rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi

from .db import Connection
from .desired import RETAINED, Settings, desired_objects
from .provider import RESOURCE_TYPES

TYPE_TOKEN = "script-tracking:index:ScriptTracking"


@dataclass
class ConnectionArgs:
    host: str
    port: int
    database: str
    username: str
    password: pulumi.Input[str]
    sslmode: str = "prefer"
    lock_timeout_ms: int = 5000
    statement_timeout_ms: int = 60000

    def plain(self, password: str) -> Connection:
        """The same settings with the password in clear, for checks the program makes itself."""
        return Connection(self.host, self.port, self.database, self.username, password, self.sslmode,
                          self.lock_timeout_ms, self.statement_timeout_ms)

    def as_input(self) -> pulumi.Output[dict]:
        # the password stays a secret inside the object; the whole object is one too
        return pulumi.Output.secret({
            "host": self.host, "port": self.port, "database": self.database,
            "username": self.username, "password": self.password, "sslmode": self.sslmode,
            "lockTimeoutMs": self.lock_timeout_ms, "statementTimeoutMs": self.statement_timeout_ms,
        })


@dataclass
class ScriptTrackingArgs:
    connection: ConnectionArgs
    settings: Settings = field(default_factory=Settings)


class ScriptTracking(pulumi.ComponentResource):
    schemas: pulumi.Output[list[str]]
    writer_role: pulumi.Output[str]
    reader_role: pulumi.Output[str]
    functions: pulumi.Output[list[str]]
    track_ddl: pulumi.Output[bool]

    def __init__(self, name: str, args: ScriptTrackingArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        connection = args.connection.as_input()
        objects = desired_objects(args.settings)
        # identity -> the resources that carry it (a role and a schema may share a name);
        # the filter rows are data, never a dependency, so they are not listed
        by_identity: dict[str, list[pulumi.Resource]] = {}
        for obj in objects:
            cls = RESOURCE_TYPES[obj.kind]
            resource = cls(obj, connection, pulumi.ResourceOptions(
                parent=self, depends_on=[r for d in obj.depends_on for r in by_identity[d]],
                # a table that leaves sql/ keeps its rows; its schema drops it on destroy
                retain_on_delete=obj.kind in RETAINED))
            if obj.kind != "data":
                by_identity.setdefault(obj.identity, []).append(resource)

        s = args.settings
        self.schemas = pulumi.Output.from_input([o.identity for o in objects if o.kind == "schema"])
        self.writer_role = pulumi.Output.from_input(s.writer_role)
        self.reader_role = pulumi.Output.from_input(s.reader_role)
        self.functions = pulumi.Output.from_input([o.identity for o in objects if o.kind == "function"])
        self.track_ddl = pulumi.Output.from_input(s.track_ddl)
        self.register_outputs({
            "schemas": self.schemas, "writerRole": self.writer_role, "readerRole": self.reader_role,
            "functions": self.functions, "trackDdl": self.track_ddl,
        })
