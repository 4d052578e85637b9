"""Where the state of stacks made before the `script_tracking` package finds the
dynamic provider (see components/__init__.py). Nothing else imports this."""

from script_tracking.provider import SqlObjectProvider

__all__ = ["SqlObjectProvider"]
