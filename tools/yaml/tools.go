//go:build tools

// Package tools pins Pulumi's YAML language host, which this project builds from
// the Go module proxy (see scripts/build-toolchain.sh). It is a module of its own
// because pulumi-yaml compiles only against the Pulumi SDK it pins (v3.206.0),
// not against the v3.274.1 of tools/cli and tools/langhost.
package tools

import (
	_ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
)
