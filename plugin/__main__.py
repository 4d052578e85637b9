"""Serves the ScriptTracking component to the Pulumi engine (script_tracking.plugin)."""

from script_tracking.plugin import main

if __name__ == "__main__":
    main()
