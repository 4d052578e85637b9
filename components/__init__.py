"""script-tracking: the tracking system in PostgreSQL as Pulumi resources.

    sqlsource  sql/ files -> database objects (pglast)
    desired    settings -> every object the stack owns (plain data)
    catalog/   live state of one object (one .sql query per kind)
    plan       live -> desired statements; refuses destructive changes
    db         connections, serialized all-or-nothing apply transactions
    provider   the dynamic provider and its resource types
    tracking   the ScriptTracking component
"""

from .desired import Settings
from .tracking import ConnectionArgs, ScriptTracking, ScriptTrackingArgs

__all__ = ["ConnectionArgs", "ScriptTracking", "ScriptTrackingArgs", "Settings"]
