"""The examples under Pulumi's mocks. The pulumi-postgresql one can only run
this way here (its engine plugin cannot be built or downloaded on these
machines), against the real pulumi_postgresql Python SDK; the two-database one
also runs for real through the CLI in tests/e2e/test_consumer.py."""

from __future__ import annotations

import runpy

import pulumi
import pytest

from tests.conftest import REPO

from .mocking import run_program

EXAMPLES = REPO / "examples"
T = "pulumi-python:dynamic/sql:"


def run_example(name: str, project: str, config: dict) -> list:
    def program():
        runpy.run_path(str(EXAMPLES / name / "__main__.py"), run_name="__main__")
        return pulumi.Output.from_input(None)

    regs, _ = run_program(program, project=project, config={f"{project}:{k}": v for k, v in config.items()})
    return regs


def test_roles_made_with_pulumi_postgresql_are_passed_in_by_name():
    regs = run_example("pulumi-postgresql-roles", "tracking-with-pulumi-postgresql-roles",
                       {"database": "app", "password": "example-password"})
    pg_roles = {r.urn: r.inputs["name"] for r in regs if r.type == "postgresql:index/role:Role"}
    assert sorted(pg_roles.values()) == ["audit_reader", "deploy_writer", "tracking_owner"]
    assert not [r for r in regs if r.type == T + "Role"], "the component made a role of its own"
    objects = next(r for r in regs if r.type == T + "Objects")
    assert set(pg_roles) <= set(objects.dependencies)
    grantees = {o["statements"][0].rsplit(" TO ", 1)[1] for o in objects.inputs["objects"].values()
                if o["kind"] == "grant"}
    assert grantees == {'"deploy_writer"', '"audit_reader"'}
    owners = {o["statements"][0].rsplit(" TO ", 1)[1] for o in objects.inputs["objects"].values()
              if o["kind"] == "owner"}
    assert owners == {'"tracking_owner"'}


def test_two_databases_are_two_installations():
    regs = run_example("two-databases", "tracking-two-databases",
                       {"password": "example-password", "databases": '["app", "billing"]'})
    assert sorted(r.name for r in regs if r.type == T + "Objects") == ["tracking-app-objects",
                                                                     "tracking-billing-objects"]
    assert len([r for r in regs if r.type == T + "Role"]) == 6  # three per database, shared on the server


def test_an_example_passes_a_port_of_0_on_to_be_refused():
    """Not taken for "unset" (5432): the component names the bad value."""
    with pytest.raises(Exception, match=r"port: 0 is outside 1\.\.65535"):
        run_example("pulumi-postgresql-roles", "tracking-with-pulumi-postgresql-roles",
                    {"database": "app", "password": "example-password", "port": "0"})
