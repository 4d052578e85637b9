// A program that uses the generated TypeScript SDK as `pulumi package add` links it
// (@pulumi/script-tracking). tests/e2e/test_sdks.py compiles it with tsc, twice: as it is
// (it must compile: tsc would report a marker below whose line compiled), then without the
// markers, when each line after a marker must fail with the error the marker quotes. So
// the SDK keeps the inputs the schema requires and the types it declares.
import * as pulumi from "@pulumi/pulumi";
import * as st from "@pulumi/script-tracking";

const config = new pulumi.Config();

const connection: st.types.input.ConnectionArgs = {
    host: "127.0.0.1",
    port: 5432,
    database: "app",
    username: "postgres",
    password: config.requireSecret("dbPassword"),
    sslmode: "prefer",
    lockTimeoutMs: 5000,
};

const tracking = new st.ScriptTracking("tracking", {
    connection,
    trackDdl: false,
    writerRole: "deploy_writer",
    readerRole: pulumi.output("auditors"),
    ownerRole: "",
    ddlExcludeSchemas: ["scratch"],
    ddlIncludeTags: ["CREATE TABLE"],
    maxScriptNameChars: 128,
    preflight: true,
});

export const writerRole: pulumi.Output<string> = tracking.writerRole;
export const readerRole: pulumi.Output<string> = tracking.readerRole;
export const ownerRole: pulumi.Output<string> = tracking.ownerRole;
export const trackDdl: pulumi.Output<boolean> = tracking.trackDdl;
export const schemas: pulumi.Output<string[]> = tracking.schemas;
export const functions: pulumi.Output<string[]> = tracking.functions;

// What the schema rules out does not compile.
// @ts-expect-error: Property 'connection' is missing
new st.ScriptTracking("no-connection", {});
// @ts-expect-error: Type 'string' is not assignable to type 'boolean
new st.ScriptTracking("flag-as-text", { connection, trackDdl: "yes" });
// @ts-expect-error: Property 'password' is missing
new st.ScriptTracking("no-password", { connection: { host: "h", port: 5432, database: "d", username: "u" } });
// @ts-expect-error: Type 'string' is not assignable to type 'Input<number>'
new st.ScriptTracking("port-as-text", { connection: { ...connection, port: "5432" } });
// @ts-expect-error: 'trackDDL' does not exist in type 'ScriptTrackingArgs'
new st.ScriptTracking("unknown-input", { connection, trackDDL: true });
// @ts-expect-error: Type 'Output<string>' is not assignable to type 'OutputInstance<number>'
export const notANumber: pulumi.Output<number> = tracking.writerRole;
