"""Not a package of its own: the component lives in `components/script_tracking/`
(installed as `script_tracking`). This module and `provider.py` only keep stacks
made before the package existed working: their state names the dynamic provider
`components.provider.SqlObjectProvider` (it is pickled by reference), and the
engine's dynamic-provider process must still find it for refresh and destroy."""
