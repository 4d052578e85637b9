//go:build tools

// Package tools pins the Pulumi engine binaries this project builds from the
// Go module proxy (see scripts/build-toolchain.sh).
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
