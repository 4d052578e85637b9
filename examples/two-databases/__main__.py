"""Two databases, one tracking system each, in a program of your own.

Every connection field takes a pulumi.Input: here they come from this stack's
config as Outputs; in your program, from whatever makes the database (an RDS
instance's `address`, a pulumi_postgresql.Database's `name`, ...).

    pulumi config set host 127.0.0.1
    pulumi config set port 5432
    pulumi config set --secret password ...
    pulumi config set --path 'databases[0]' app
    pulumi config set --path 'databases[1]' billing
"""

import pulumi

from script_tracking import ConnectionArgs, ScriptTracking, ScriptTrackingArgs, Settings

config = pulumi.Config()
host = pulumi.Output.from_input(config.get("host", "127.0.0.1"))
port = pulumi.Output.from_input(config.get_int("port", 5432))
password = config.require_secret("password")
settings = Settings(owner_role=config.get("ownerRole", "script_tracking_owner"),
                    writer_role=config.get("writerRole", "script_tracking_writer"),
                    reader_role=config.get("readerRole", "script_tracking_reader"))

for database in config.require_object("databases"):
    tracking = ScriptTracking(f"tracking-{database}", ScriptTrackingArgs(
        connection=ConnectionArgs(host=host, port=port, database=pulumi.Output.from_input(database),
                                  username=config.get("username", "postgres"), password=password),
        settings=settings))
    pulumi.export(f"{database}.schemas", tracking.schemas)
    pulumi.export(f"{database}.writerRole", tracking.writer_role)
