"""Where the state of a stack made by release 0.1 finds its dynamic provider
(`components.provider.SqlObjectProvider`, pickled by reference; see
components/__init__.py). Such a stack is upgraded with
`python -m script_tracking.upgrade --stack NAME` (the Makefile's targets run it);
until then every operation on its old resources stops with that instruction,
so nothing is dropped by a program that no longer declares them."""

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from script_tracking.provider import LegacyStateError


class SqlObjectProvider(ResourceProvider):
    serialize_as_secret_always = False

    def configure(self, req: ConfigureRequest) -> None:
        import sys
        sys.tracebacklimit = 0  # our error is one line for the user

    def _refuse(self, *_args, **_kwargs):
        raise LegacyStateError("this stack was made by script-tracking 0.1: upgrade its state first with "
                               "python -m script_tracking.upgrade --stack <name> (make up/preview do it)")

    check = diff = create = update = delete = read = _refuse
