// A program that uses the generated Go SDK as `pulumi package add` links it (a replace
// directive to the SDK's own module, here ./sdk). tests/e2e/test_sdks.py generates the SDK
// into ./sdk and runs `go build ./...` on this module and the SDK's packages.
package main

import (
	st "example.com/pulumi-script-tracking/sdk/go/scripttracking"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		tracking, err := st.NewScriptTracking(ctx, "tracking", &st.ScriptTrackingArgs{
			Connection: st.ConnectionArgs{
				Host:          pulumi.String("127.0.0.1"),
				Port:          pulumi.Int(5432),
				Database:      pulumi.String("app"),
				Username:      pulumi.String("postgres"),
				Password:      cfg.RequireSecret("dbPassword"),
				Sslmode:       pulumi.StringPtr("prefer"),
				LockTimeoutMs: pulumi.IntPtr(5000),
			},
			TrackDdl:           pulumi.BoolRef(false),
			WriterRole:         pulumi.String("deploy_writer"),
			ReaderRole:         pulumi.String("auditors").ToStringOutput(),
			OwnerRole:          pulumi.String(""),
			DdlExcludeSchemas:  []string{"scratch"},
			DdlIncludeTags:     []string{"CREATE TABLE"},
			MaxScriptNameChars: pulumi.IntRef(128),
			Preflight:          pulumi.BoolRef(true),
		})
		if err != nil {
			return err
		}
		var (
			writerRole pulumi.StringOutput      = tracking.WriterRole
			readerRole pulumi.StringOutput      = tracking.ReaderRole
			ownerRole  pulumi.StringOutput      = tracking.OwnerRole
			trackDdl   pulumi.BoolOutput        = tracking.TrackDdl
			schemas    pulumi.StringArrayOutput = tracking.Schemas
			functions  pulumi.StringArrayOutput = tracking.Functions
		)
		ctx.Export("writerRole", writerRole)
		ctx.Export("readerRole", readerRole)
		ctx.Export("ownerRole", ownerRole)
		ctx.Export("trackDdl", trackDdl)
		ctx.Export("schemas", schemas)
		ctx.Export("functions", functions)
		return nil
	})
}
