"""The TypeScript and Go SDKs of the component, generated from the plugin's schema and compiled,
so a schema change that breaks another language fails here.

The schema comes from the real CLI (`pulumi package get-schema ./plugin`); the SDKs from
Pulumi's own code generators (`st-gen-sdk --local`, tools/cli/gensdk, built into .tools/bin by
`make toolchain`), as `pulumi package add` writes them into a project. Each SDK is compiled
together with a consumer program of tools/sdkcheck that instantiates ScriptTracking: TypeScript
with tsc, Go with `go build`. tsc, @types/node and @pulumi/pulumi come from npm at the versions of
tools/sdkcheck/package-lock.json, installed once by `npm ci` into .tools/sdkcheck/<hash of the
lock>/ (git-ignored); a failed install fails the test, as does a missing node, npm or go.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import BIN, program_env, require_toolchain

SDKCHECK = REPO / "tools" / "sdkcheck"
NPM_CACHE = REPO / ".tools" / "sdkcheck"
GEN_SDK = BIN / "st-gen-sdk"
RESOURCE = "script-tracking:index:ScriptTracking"
CONNECTION = "script-tracking:index:Connection"
# where the generator puts the Go SDK of a package with no repository, as `pulumi package add` does
GO_MODULE = "example.com/pulumi-script-tracking/sdk/go"


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, text=True, capture_output=True,
                          timeout=timeout)


def check(r: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if r.returncode != 0:
        raise AssertionError(f"{what} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found on PATH: the SDK checks compile with them")


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> tuple[Path, dict]:
    """The plugin's schema as the CLI prints it: its file and its content."""
    require_toolchain()
    if not GEN_SDK.exists():
        pytest.fail("st-gen-sdk missing in .tools/bin: run `make toolchain`")
    tmp = tmp_path_factory.mktemp("schema")
    r = check(run(["pulumi", "package", "get-schema", REPO / "plugin"], cwd=tmp, env=program_env(tmp)),
              "pulumi package get-schema ./plugin")
    path = tmp / "schema.json"
    path.write_text(r.stdout)
    return path, json.loads(r.stdout)


def generate(schema_path: Path, language: str, out: Path) -> None:
    r = check(run([GEN_SDK, "--schema", schema_path, "--language", language, "--out", out, "--local"],
                  cwd=schema_path.parent), f"st-gen-sdk --language {language}")
    assert r.stderr == "", r.stderr


def node_modules() -> Path:
    """typescript, @types/node and @pulumi/pulumi as tools/sdkcheck pins them: `npm ci` once into
    .tools/sdkcheck/<hash of package.json and the lock>/, moved into place only when complete."""
    require("node", "npm")
    pins = [SDKCHECK / "package.json", SDKCHECK / "package-lock.json"]
    key = hashlib.sha256(b"".join(p.read_bytes() for p in pins)).hexdigest()[:12]
    home = NPM_CACHE / key
    if not (home / ".installed").exists():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        staging = NPM_CACHE / f"{key}.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for p in pins:
            shutil.copy(p, staging)
        r = run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=staging, timeout=900)
        if r.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"npm ci of tools/sdkcheck failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        (staging / ".installed").touch()
        if home.exists() and not (home / ".installed").exists():  # not ours: never complete
            shutil.rmtree(home)
        try:
            staging.rename(home)
        except OSError:  # another run installed the same pins meanwhile
            shutil.rmtree(staging, ignore_errors=True)
        for old in NPM_CACHE.iterdir():  # installs of earlier pins
            if old.name != key and re.fullmatch(r"[0-9a-f]{12}", old.name):
                shutil.rmtree(old, ignore_errors=True)
    return home / "node_modules"


def ts_interface(source: str, name: str) -> dict[str, tuple[bool, str]]:
    """The members of a generated TypeScript interface: name -> (optional, type)."""
    body = re.search(rf"^export interface {name} {{\n(.*?)\n}}", source, re.S | re.M)
    assert body, f"no interface {name} in the generated SDK"
    return {m[1]: (m[2] == "?", m[3]) for m in re.finditer(r"^    (\w+)(\??): (.+);$", body[1], re.M)}


def go_struct(source: str, name: str) -> dict[str, str]:
    """The named fields of a generated Go struct: name -> type."""
    body = re.search(rf"^type {name} struct {{\n(.*?)\n}}", source, re.S | re.M)
    assert body, f"no struct {name} in the generated SDK"
    return {m[1]: m[2] for m in re.finditer(r"^\t(\w+)\s+(\S+)(?:\s+`[^`]*`)?$", body[1], re.M)}


def go_name(prop: str) -> str:
    return prop[0].upper() + prop[1:]


def tsc_errors(output: str) -> dict[int, str]:
    """tsc's errors (--pretty false) in consumer.ts: line -> the error with its elaboration."""
    errors: dict[int, str] = {}
    line = None
    for text in output.splitlines():
        m = re.match(r"consumer\.ts\((\d+),\d+\): error (TS\d+: .*)$", text)
        if m:
            line = int(m[1])
            errors[line] = errors.get(line, "") + m[2] + "\n"
        elif text.startswith(" ") and line is not None:
            errors[line] += text.strip() + "\n"
        else:
            line = None
            assert not text.strip(), f"unexpected tsc output: {text}\n{output}"
    return errors


def test_the_typescript_sdk_compiles_with_a_program_using_it(schema, tmp_path):
    schema_path, spec = schema
    resource, connection = spec["resources"][RESOURCE], spec["types"][CONNECTION]
    modules = node_modules()
    tsc = ["node", modules / "typescript" / "bin" / "tsc"]
    (tmp_path / "node_modules").symlink_to(modules)
    sdk = tmp_path / "sdk" / "nodejs"
    generate(schema_path, "nodejs", sdk)

    # the generated API is the schema's: every input, required exactly when the schema says so
    source = (sdk / "scriptTracking.ts").read_text()
    args = ts_interface(source, "ScriptTrackingArgs")
    assert {n: optional for n, (optional, _) in args.items()} == {
        n: n not in resource["requiredInputs"] for n in resource["inputProperties"]}
    assert args["connection"] == (False, "inputs.ConnectionArgs")
    assert args["trackDdl"] == (True, "boolean")
    assert args["ddlExcludeSchemas"] == (True, "string[]")
    assert args["writerRole"] == (True, "pulumi.Input<string | undefined>")
    conn = ts_interface((sdk / "types" / "input.ts").read_text(), "ConnectionArgs")
    assert {n: optional for n, (optional, _) in conn.items()} == {
        n: n not in connection["required"] for n in connection["properties"]}
    assert conn["password"] == (False, "pulumi.Input<string>")
    assert conn["port"] == (False, "pulumi.Input<number>")
    outputs = dict(re.findall(r"^    declare public (?:/\*out\*/ )?readonly (\w+): pulumi\.Output<(.+)>;$",
                              source, re.M))
    assert set(outputs) == set(resource["properties"])
    assert outputs["writerRole"] == "string" and outputs["functions"] == "string[]"
    assert json.loads((sdk / "package.json").read_text())["name"] == "@pulumi/script-tracking"

    # the SDK compiles as its install compiles it (scripts/postinstall.js: tsc --types node)
    check(run([*tsc, "-p", sdk, "--types", "node", "--pretty", "false"], cwd=sdk), "tsc of the generated SDK")
    assert (sdk / "bin" / "index.js").exists() and (sdk / "bin" / "scriptTracking.d.ts").exists()

    # a program using it compiles against its declarations, linked as `pulumi package add` links it
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    for f in ("consumer.ts", "tsconfig.json"):
        shutil.copy(SDKCHECK / f, consumer)
    (consumer / "node_modules" / "@pulumi").mkdir(parents=True)
    (consumer / "node_modules" / "@pulumi" / "script-tracking").symlink_to(sdk)
    check(run([*tsc, "-p", consumer, "--pretty", "false"], cwd=consumer), "tsc of tools/sdkcheck/consumer.ts")

    # without its @ts-expect-error markers, each marked line fails with the error the marker quotes
    expected: dict[int, str] = {}
    kept: list[str] = []
    for line in (consumer / "consumer.ts").read_text().splitlines():
        marker = re.match(r"\s*// @ts-expect-error: (.+)$", line)
        if marker:
            expected[len(kept) + 1] = marker[1]
        else:
            kept.append(line)
    assert len(expected) == 6, expected
    (consumer / "consumer.ts").write_text("\n".join(kept) + "\n")
    r = run([*tsc, "-p", consumer, "--pretty", "false"], cwd=consumer)
    assert r.returncode != 0, "consumer.ts without its markers compiled"
    errors = tsc_errors(r.stdout)
    assert set(errors) == set(expected), r.stdout
    for line, message in expected.items():
        assert message in errors[line], f"line {line}: expected {message!r}, got {errors[line]}"


def test_the_go_sdk_builds_with_a_program_using_it(schema, tmp_path):
    schema_path, spec = schema
    resource, connection = spec["resources"][RESOURCE], spec["types"][CONNECTION]
    require("go")
    module = tmp_path / "consumer"
    shutil.copytree(SDKCHECK / "go", module)
    generate(schema_path, "go", module / "sdk")

    assert (module / "sdk" / "go.mod").read_text().startswith(f"module {GO_MODULE}\n")
    package = module / "sdk" / "scripttracking"
    source = (package / "scriptTracking.go").read_text()
    args = go_struct(source, "ScriptTrackingArgs")
    assert set(args) == {go_name(n) for n in resource["inputProperties"]}
    # the one required input is a plain value (never nil); the optional ones pointers or inputs
    assert args["Connection"] == "ConnectionArgs"
    assert args["TrackDdl"] == "*bool" and args["MaxScriptNameChars"] == "*int"
    assert args["DdlExcludeSchemas"] == "[]string"
    assert args["WriterRole"] == "pulumi.StringPtrInput"
    outputs = go_struct(source, "ScriptTracking")
    assert set(outputs) == {go_name(n) for n in resource["properties"]}
    assert outputs["WriterRole"] == "pulumi.StringOutput" and outputs["Functions"] == "pulumi.StringArrayOutput"
    assert outputs["TrackDdl"] == "pulumi.BoolOutput"
    conn = go_struct((package / "pulumiTypes.go").read_text(), "ConnectionArgs")
    assert set(conn) == {go_name(n) for n in connection["properties"]}
    for name in connection["properties"]:  # required: an input; optional: a pointer input
        assert conn[go_name(name)].endswith("PtrInput") == (name not in connection["required"]), (name, conn)
    assert conn["Password"] == "pulumi.StringInput" and conn["Port"] == "pulumi.IntInput"

    # the SDK's packages and the program (tools/sdkcheck/go/main.go), against Pulumi's Go SDK v3.274.1
    env = dict(os.environ, GOFLAGS=" ".join(filter(None, [os.environ.get("GOFLAGS"), "-mod=mod"])))
    check(run(["go", "build", "-trimpath", "./...", f"{GO_MODULE}/..."], cwd=module, env=env, timeout=900),
          "go build of the generated SDK and tools/sdkcheck/go")


def test_st_gen_sdk_refuses_on_one_line(schema, tmp_path):
    schema_path, spec = schema
    broken = copy.deepcopy(spec)
    broken["resources"][RESOURCE]["inputProperties"]["connection"]["$ref"] = "#/types/script-tracking:index:Nope"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    cases = {
        ("--schema", tmp_path / "broken.json", "--language", "go", "--out", tmp_path / "a"):
            "st-gen-sdk: invalid schema: ",
        ("--schema", schema_path, "--language", "nodejs", "--out", tmp_path / "taken"):
            f"st-gen-sdk: --out {tmp_path / 'taken'} is not empty",
        ("--schema", schema_path, "--language", "java", "--out", tmp_path / "b"):
            'st-gen-sdk: --language "java": want nodejs or go',
    }
    for args, start in cases.items():
        r = run([GEN_SDK, *args], cwd=tmp_path)
        assert r.returncode == 1 and r.stdout == "", r
        assert r.stderr.startswith(start) and r.stderr.count("\n") == 1, r.stderr
    assert "script-tracking:index:Nope" in run([GEN_SDK, *next(iter(cases))], cwd=tmp_path).stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]
