// Command st-gen-sdk writes the TypeScript or Go SDK of a Pulumi package schema with
// Pulumi's own code generators (github.com/pulumi/pulumi/pkg/v3/codegen), the code that
// `pulumi package gen-sdk` runs inside the language plugins pulumi-language-nodejs and
// pulumi-language-go, which cannot be built here (see scripts/build-toolchain.sh).
//
//	st-gen-sdk --schema schema.json --language nodejs|go --out DIR [--local]
//
// The schema is bound and validated as `pulumi package gen-sdk` does; it must be
// self-contained (no references to other packages). Without --local the SDK is what
// `pulumi package gen-sdk` writes (a publishable package); with --local it is what
// `pulumi package add` writes into a project: a Go SDK with a go.mod of its own
// (module <repository or example.com/pulumi-NAME>/sdk/go), a Node.js package that
// compiles itself with tsc on install. DIR must be absent or empty. Any failure is one
// line on stderr and exit status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
	"github.com/hashicorp/hcl/v2"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const (
	tool  = "st-gen-sdk"
	usage = "usage: st-gen-sdk --schema FILE --language nodejs|go --out DIR [--local]"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", tool, oneLine(err.Error()))
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) (err error) {
	// the generators assert their invariants with panics: report those as errors too
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("code generator failed: %v", r)
		}
	}()

	flags := flag.NewFlagSet(tool, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	schemaPath := flags.String("schema", "", "the package schema (JSON), - for stdin")
	language := flags.String("language", "", "nodejs or go")
	out := flags.String("out", "", "the directory to write the SDK into (absent or empty)")
	local := flags.Bool("local", false, "as `pulumi package add` writes it into a project")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w (%s)", err, usage)
	}
	if *schemaPath == "" || *out == "" || flags.NArg() > 0 {
		return errors.New(usage)
	}
	if *language != "nodejs" && *language != "go" {
		return fmt.Errorf("--language %q: want nodejs or go", *language)
	}

	pkg, err := bind(*schemaPath)
	if err != nil {
		return err
	}
	// `pulumi package add` always packs (cmd/pulumi/packages.InstallPackage): Go then gets
	// a go.mod, and the version of the schema is the package's
	pkg.SupportPack = *local
	var files map[string][]byte
	switch *language {
	case "nodejs":
		files, err = nodejs.GeneratePackage(tool, pkg, nil, nil, *local, noLoader{})
	case "go":
		files, err = gogen.GeneratePackage(tool, pkg, nil)
	}
	if err != nil {
		return fmt.Errorf("generating the %s SDK: %w", *language, err)
	}
	if err := write(*out, files); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d files of the %s SDK of %s in %s\n", tool, len(files), *language, pkg.Name, *out)
	return nil
}

// bind reads a schema and binds it, validating it against Pulumi's metaschema.
func bind(path string) (*schema.Package, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the schema: %w", err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s is not a package schema: %w", path, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("binding the schema: %w", err)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("invalid schema: %s", describe(diags))
	}
	return pkg, nil
}

// describe lists every error of a binding, the place it names first.
func describe(diags hcl.Diagnostics) string {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" && d.Detail != d.Summary {
			msg += ": " + d.Detail
		}
		if d.Subject != nil && d.Subject.Filename != "" {
			msg = d.Subject.Filename + ": " + msg
		}
		msgs = append(msgs, msg)
	}
	return strings.Join(msgs, "; ")
}

// write puts the generated files below dir, which must be absent or empty: the tool never
// deletes anything, and stale files of an earlier schema must not linger in an SDK.
func write(dir string, files map[string][]byte) error {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("--out %s is not empty", dir)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("--out: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		target := filepath.Join(dir, filepath.FromSlash(name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("generated file %q is outside --out", name)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// noLoader refuses to load other packages: the SDKs generated here are of self-contained
// schemas (our component's), so a reference to another package is an error, not a download.
type noLoader struct{}

func (noLoader) refuse(name string) error {
	return fmt.Errorf("the schema references package %q: only self-contained schemas are supported", name)
}

func (l noLoader) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, l.refuse(pkg)
}

func (l noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, l.refuse(d.Name)
}

func (l noLoader) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, l.refuse(pkg)
}

func (l noLoader) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, l.refuse(d.Name)
}
