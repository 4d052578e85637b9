"""Running a Pulumi program under mocks and recording what it registers: the
mock monitor's own records carry only (urn, id, state); the parent, the
dependencies and the secret markers of a registration are read from the
RegisterResource requests themselves, which a MockMonitor subclass records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pulumi
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "postgresql:index/database:Database":
            outputs["host"] = "made.example"  # an output the program does not know in advance
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.requests: list[Any] = []

    def RegisterResource(self, request):
        self.requests.append(request)
        return super().RegisterResource(request)


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    secret_outputs: list[str]
    raw: dict          # the request's inputs as sent (secrets still wrapped)
    inputs: dict       # as the mock saw them (unwrapped)


def run_program(body: Callable[[], Any], project: str = "st", config: dict | None = None) -> tuple[list[Registered], Any]:
    """Run `body` as a Pulumi program under mocks; its registrations and what it returned, resolved."""
    mocks = Mocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack="unit", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config or {})
    result: dict = {}

    @pulumi.runtime.test
    def program():
        return pulumi.Output.from_input(body()).apply(lambda v: result.update(value=v))

    program()
    regs = []
    for req in monitor.requests:
        if req.type == "pulumi:pulumi:Stack":
            continue
        urn = monitor.make_urn(req.parent, req.type, req.name)
        regs.append(Registered(
            type=req.type, name=req.name, urn=urn, parent=req.parent, dependencies=list(req.dependencies),
            secret_outputs=list(req.additionalSecretOutputs),
            raw=json_format.MessageToDict(req.object),
            inputs=monitor.resources[urn].state))
    return regs, result.get("value")
