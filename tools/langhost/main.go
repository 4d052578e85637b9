// Command pulumi-language-python is this project's Python language host for the
// Pulumi engine.
//
// Pulumi's own host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
// is not served by the Go module proxy these machines reach, so we implement the
// engine's LanguageRuntime protocol here, on top of Pulumi's published sdk/v3
// module: its gRPC definitions, its Python toolchain resolution (virtualenv
// activation) and its program launcher script (pulumi-language-python-exec, which
// the build script installs next to this binary). The engine, the Python SDK
// and the program are Pulumi's and ours unchanged; this process only starts the
// program in the project's virtualenv with the engine's settings.
//
// It also runs Python plugins (RunPlugin): a component provider folder with a
// PulumiPlugin.yaml (`runtime: {name: python, options: {virtualenv: ...}}`) and
// a __main__.py, started with that virtualenv's python.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// version is stamped by the build script (-ldflags -X main.version=...). The
// engine refuses a language host whose version is not a semver, so an unstamped
// build reports the version of the Pulumi SDK it was built with.
var version = ""

func pluginVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/pulumi/pulumi/sdk/v3" {
				return strings.TrimPrefix(dep.Version, "v")
			}
		}
	}
	return "0.0.0"
}

// runtimeOptions are the Python runtime options a host may be started with as
// flags (`-virtualenv=venv`): engines built on an older Pulumi SDK, such as the
// one inside pulumi-language-yaml, pass a plugin's PulumiPlugin.yaml options
// this way. They are defaults; the options in a request win. A typechecker is
// accepted but not run: this host runs none, for programs either.
var runtimeOptions = []string{"virtualenv", "toolchain", "typechecker"}

// exitCodeUserActionable is what the launcher script exits with after it has
// already shown the user an error; the engine must then not add another.
const exitCodeUserActionable = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string
	defaults      map[string]*string // runtimeOptions given as flags
}

func main() {
	flag.String("tracing", "", "ignored: tracing endpoint")
	flag.String("root", "", "ignored: project root (taken from each request)")
	defaults := map[string]*string{}
	for _, name := range runtimeOptions {
		defaults[name] = flag.String(name, "", "default for the runtime option "+name)
	}
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-python ENGINE_ADDRESS")
		os.Exit(1)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
	h := &host{
		engineAddress: flag.Arg(0),
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
		defaults:      defaults,
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: could not serve: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: pluginVersion()}, nil
}

// Plugins are resolved when the program registers resources; this project's
// build puts the ones it needs on PATH, so nothing has to be pre-installed.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	// The project's Makefile owns the virtualenv (pinned requirements).
	return nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, _, err := h.resolve(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
	}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, _, err := h.resolve(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(pkgs))
	for _, p := range pkgs {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// resolve finds the Python toolchain the project (or plugin) asks for: the
// runtime options `toolchain` and `virtualenv` of Pulumi.yaml (or
// PulumiPlugin.yaml), resolved by Pulumi's own code. It also returns the
// virtualenv's absolute path ("" for the ambient python).
func (h *host) resolve(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, string, error) {
	if info == nil {
		return nil, "", errors.New("the engine sent no program information")
	}
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Pip,
	}
	option := func(name string) string {
		if v, ok := info.GetOptions().GetFields()[name]; ok {
			return v.GetStringValue()
		}
		if v := h.defaults[name]; v != nil {
			return *v
		}
		return ""
	}
	opts.Virtualenv = option("virtualenv")
	if tc := option("toolchain"); tc != "" && tc != "pip" {
		return nil, "", fmt.Errorf("runtime option toolchain=%q is not supported by this host (use pip)", tc)
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, "", err
	}
	venv := opts.Virtualenv
	if venv != "" && !filepath.IsAbs(venv) {
		venv = filepath.Join(opts.Root, venv)
	}
	return tc, venv, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, _, err := h.resolve(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args := []string{
		"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--organization", req.GetOrganization(),
		"--root_directory", req.GetInfo().GetRootDirectory(),
		entry,
	}
	args = append(args, req.GetArgs()...)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cmd.Dir = req.GetInfo().GetProgramDirectory()
	if cmd.Env == nil { // no virtualenv to activate: the program still gets our environment
		cmd.Env = os.Environ()
	}
	cfg := req.GetConfig()
	if cfg == nil {
		cfg = map[string]string{} // the SDK expects a JSON object, never null
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{} // the SDK expects a JSON list, never null
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitCodeUserActionable {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Python plugin (such as a component provider): the plugin's
// folder with its virtualenv's python, with the engine's arguments and
// environment, its output streamed back to the engine and its exit code last.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	tc, venv, err := h.resolve(req.GetInfo())
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	if err := tc.ValidateVenv(ctx); err != nil {
		// the SDK's message is several lines about Pulumi.yaml; say it in one
		return fmt.Errorf("the Python plugin in %s: its virtualenv %s (runtime option in PulumiPlugin.yaml) "+
			"is missing or not a virtualenv", dir, venv)
	}
	// unbuffered: the engine waits for the provider's port on its stdout
	args := append([]string{"-u", dir}, req.GetArgs()...)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	cmd.Dir = req.GetPwd()
	// The plugin gets the engine's environment, not ours, with the virtualenv activated.
	env := make([]string, 0, len(req.GetEnv()))
	for _, kv := range req.GetEnv() {
		if strings.Contains(kv, "=") { // ActivateVirtualEnv asserts this
			env = append(env, kv)
		}
	}
	if venv != "" {
		env = toolchain.ActivateVirtualEnv(env, venv)
	}
	cmd.Env = env

	stream := &lockedStream{LanguageRuntime_RunPluginServer: server}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(stream, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("could not run the Python plugin in %s: %w", dir, err)
		}
		if err := stream.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exit.ExitCode())},
		}); err != nil {
			return err
		}
	}
	return closer.Close()
}

// lockedStream serializes sends: the plugin's stdout and stderr are copied to
// the stream by two goroutines, and a gRPC stream is not safe for concurrent sends.
type lockedStream struct {
	pulumirpc.LanguageRuntime_RunPluginServer
	mu sync.Mutex
}

func (s *lockedStream) Send(resp *pulumirpc.RunPluginResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.LanguageRuntime_RunPluginServer.Send(resp)
}
