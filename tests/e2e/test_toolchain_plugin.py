"""The toolchain runs a Python component provider plugin for a YAML program: the
YAML language host, our Python language host's RunPlugin and its runtime-option
flags, with a throwaway plugin (no database), so a toolchain fault shows here
rather than as a failure of the component."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.e2e.conftest import program_env, require_toolchain

PLUGIN = '''
from typing import Optional, TypedDict

import pulumi
from pulumi.provider.experimental import component_provider_host


class GreetingArgs(TypedDict):
    who: pulumi.Input[str]
    """Whom to greet."""
    punctuation: Optional[pulumi.Input[str]]
    """Ends the greeting."""


class Greeting(pulumi.ComponentResource):
    message: pulumi.Output[str]

    def __init__(self, name: str, args: GreetingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("greeter:index:Greeting", name, {}, opts)
        self.message = pulumi.Output.concat("hello ", args["who"], args.get("punctuation") or "!")
        self.register_outputs({"message": self.message})


if __name__ == "__main__":
    component_provider_host(name="greeter", components=[Greeting])
'''

PROGRAM = '''
name: greet
runtime: yaml
packages:
  greeter: ../greeter
resources:
  hi:
    type: greeter:Greeting
    properties:
      who: world
outputs:
  message: ${hi.message}
'''


def plugin(tmp_path: Path, virtualenv: Path) -> Path:
    folder = tmp_path / "greeter"
    folder.mkdir()
    (folder / "PulumiPlugin.yaml").write_text(
        f"runtime:\n  name: python\n  options:\n    virtualenv: {virtualenv}\n")
    (folder / "__main__.py").write_text(PLUGIN)
    return folder


def pulumi(env: dict[str, str], cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["pulumi", *args], cwd=cwd, env=env, text=True, capture_output=True, check=check,
                          timeout=300)


def test_a_yaml_program_runs_a_python_component_plugin(tmp_path):
    require_toolchain()
    folder = plugin(tmp_path, REPO / ".venv")
    env = program_env(tmp_path)

    schema = json.loads(pulumi(env, tmp_path, "package", "get-schema", str(folder)).stdout)
    greeting = schema["resources"]["greeter:index:Greeting"]
    assert greeting["isComponent"] and greeting["requiredInputs"] == ["who"]
    assert set(greeting["inputProperties"]) == {"who", "punctuation"}

    program = tmp_path / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(PROGRAM)
    pulumi(env, program, "stack", "init", "dev")
    try:
        pulumi(env, program, "up", "--yes")
        assert pulumi(env, program, "stack", "output", "message").stdout.strip() == "hello world!"
    finally:
        pulumi(env, program, "destroy", "--yes", check=False)
    assert pulumi(env, program, "stack", "--show-urns").stdout.count("urn:pulumi:") == 0


def test_a_plugin_without_its_virtualenv_fails_in_one_readable_line(tmp_path):
    require_toolchain()
    folder = plugin(tmp_path, tmp_path / "no-venv")
    result = pulumi(program_env(tmp_path), tmp_path, "package", "get-schema", str(folder), check=False)
    assert result.returncode != 0
    assert f"its virtualenv {tmp_path / 'no-venv'} (runtime option in PulumiPlugin.yaml) is missing" \
        in result.stderr, result.stderr
    assert "panic" not in result.stderr and "goroutine" not in result.stderr
