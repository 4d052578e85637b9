"""script-tracking: the tracking system in PostgreSQL as a Pulumi component.

    sqlsource  sql/ files -> database objects (pglast)
    desired    settings -> every object an installation owns (plain data)
    catalog/   live state of one object (one .sql query per kind)
    plan       live -> desired statements; refuses destructive changes
    db         connections, serialized all-or-nothing apply transactions
    preflight  what the connection must be able to do, checked at preview
    provider   the dynamic provider: a database's objects as one resource
    tracking   the ScriptTracking component
    upgrade    moves a stack made by release 0.1 to this release's resources
"""

from .desired import Settings, SettingsError
from .tracking import ConnectionArgs, ScriptTracking, ScriptTrackingArgs

__all__ = ["ConnectionArgs", "ScriptTracking", "ScriptTrackingArgs", "Settings", "SettingsError"]
