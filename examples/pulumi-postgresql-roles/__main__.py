"""Roles made with pulumi-postgresql, passed in by name.

The owner, writer and reader roles are the program's own `pulumi_postgresql.Role`s;
ScriptTracking makes the owner own its objects, grants the others what they
need, and never creates or drops any of them.
Passing `.name` (an Output) also makes the installation wait for the roles.
"""

import pulumi
import pulumi_postgresql as postgresql

from script_tracking import ConnectionArgs, ScriptTracking, ScriptTrackingArgs

config = pulumi.Config()
owner = postgresql.Role("tracking-owner", name="tracking_owner", login=False)
writer = postgresql.Role("deploy-writer", name="deploy_writer", login=False)
reader = postgresql.Role("audit-reader", name="audit_reader", login=False)

tracking = ScriptTracking("tracking", ScriptTrackingArgs(
    connection=ConnectionArgs(host=config.get("host", "127.0.0.1"), port=config.get_int("port", 5432),
                              database=config.require("database"), username=config.get("username", "postgres"),
                              password=config.require_secret("password")),
    owner_role=owner.name, writer_role=writer.name, reader_role=reader.name))

pulumi.export("ownerRole", tracking.owner_role)
pulumi.export("writerRole", tracking.writer_role)
pulumi.export("readerRole", tracking.reader_role)
