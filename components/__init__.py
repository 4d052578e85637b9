"""Not a package of its own: the component lives in `components/script_tracking/`
(installed as `script_tracking`). This module and `provider.py` exist for stacks
made by release 0.1, whose state names the dynamic provider
`components.provider.SqlObjectProvider` (pickled by reference): the engine's
dynamic-provider process must find it, and it then stops every operation on
those old resources with the instruction to upgrade the stack first."""
