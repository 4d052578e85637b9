#!/usr/bin/env bash
# Build the Pulumi toolchain into .tools/bin from the Go module proxy, cached by
# version: a second run with the same pins does nothing.
#   - pulumi: the CLI and engine (github.com/pulumi/pulumi/pkg/v3, tools/cli)
#   - pulumi-language-python: the Python language host (tools/langhost)
#   - pulumi-language-python-exec: Pulumi's program launcher, from sdk/v3
#   - pulumi-resource-pulumi-python: our launcher for Python dynamic providers
#   - pulumi-language-yaml: Pulumi's YAML language host (github.com/pulumi/pulumi-yaml,
#     tools/yaml: a module of its own, it builds only against the Pulumi SDK it pins)
#   - st-gen-sdk: TypeScript and Go SDKs from a package schema with Pulumi's own code
#     generators (tools/cli/gensdk; the language plugins that `pulumi package gen-sdk`
#     needs for them are not served by the module proxy)
# A `pulumi` of at least the pinned version already on PATH is used as is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.tools/bin
PULUMI_VERSION=$(sed -n 's/^require github.com\/pulumi\/pulumi\/pkg\/v3 \(v.*\)$/\1/p' "$root/tools/cli/go.mod")
YAML_VERSION=$(sed -n 's/^require github.com\/pulumi\/pulumi-yaml \(v.*\)$/\1/p' "$root/tools/yaml/go.mod")
SDK_VERSION=$(sed -n 's/^require github.com\/pulumi\/pulumi\/sdk\/v3 \(v.*\)$/\1/p; s/^\tgithub.com\/pulumi\/pulumi\/sdk\/v3 \(v[^ ]*\).*$/\1/p' "$root/tools/langhost/go.mod" | head -1)
if [ -z "$PULUMI_VERSION" ] || [ -z "$YAML_VERSION" ] || [ -z "$SDK_VERSION" ]; then
    echo "toolchain: could not read the pinned versions from tools/{cli,yaml,langhost}/go.mod" >&2
    exit 1
fi
mkdir -p "$bin"
# no VCS stamping: a checkout owned by another user, or no git, must not break the build
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"

stamp() { echo "$1" > "$bin/.$2.version"; }
fresh() { [ -x "$bin/$2" ] && [ "$(cat "$bin/.$2.version" 2>/dev/null)" = "$1" ]; }

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

if ! fresh "$PULUMI_VERSION" pulumi; then
    existing=$(command -v pulumi 2>/dev/null || true)
    if [ -n "$existing" ] && [ "$existing" != "$bin/pulumi" ] \
        && version_ge "$("$existing" version 2>/dev/null | tr -d v)" "${PULUMI_VERSION#v}"; then
        echo "toolchain: using $existing ($("$existing" version))"
        ln -sf "$existing" "$bin/pulumi"
    else
        echo "toolchain: building pulumi $PULUMI_VERSION (first time: several minutes)"
        (cd "$root/tools/cli" && go build -trimpath \
            -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
            -o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    fi
    stamp "$PULUMI_VERSION" pulumi
fi

host_key="$SDK_VERSION-$(cat "$root/tools/langhost/main.go" "$root/tools/langhost/go.sum" | sha256sum | cut -c1-12)"
if ! fresh "$host_key" pulumi-language-python; then
    echo "toolchain: building pulumi-language-python (sdk $SDK_VERSION)"
    (cd "$root/tools/langhost" && go build -trimpath -ldflags "-s -w -X main.version=${SDK_VERSION#v}" \
        -o "$bin/pulumi-language-python" .)
    sdkdir=$(cd "$root/tools/langhost" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
    install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"
    stamp "$host_key" pulumi-language-python
fi

if ! fresh "$YAML_VERSION" pulumi-language-yaml; then
    echo "toolchain: building pulumi-language-yaml $YAML_VERSION (first time: about a minute)"
    (cd "$root/tools/yaml" && go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$YAML_VERSION" \
        -o "$bin/pulumi-language-yaml" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml)
    stamp "$YAML_VERSION" pulumi-language-yaml
fi

gensdk_key="$PULUMI_VERSION-$(cat "$root/tools/cli/gensdk/main.go" "$root/tools/cli/go.mod" "$root/tools/cli/go.sum" \
    | sha256sum | cut -c1-12)"
if ! fresh "$gensdk_key" st-gen-sdk; then
    echo "toolchain: building st-gen-sdk (Pulumi's code generators, $PULUMI_VERSION)"
    (cd "$root/tools/cli" && go build -trimpath -ldflags "-s -w" -o "$bin/st-gen-sdk" ./gensdk)
    stamp "$gensdk_key" st-gen-sdk
fi

install -m 0755 "$root/tools/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"
echo "toolchain: $("$bin/pulumi" version) in .tools/bin"
