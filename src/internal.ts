/**
 * What the CLI and its roles (actors/) use from the library beyond the public surface of mod.ts:
 * the runtime seam, the HTTP server, the monitor's views, dead-letter helpers. Not part of the
 * package's API: the package exports only mod.ts, and these may change in any release.
 */
export { args, cwd, env, exit, hostname, isDeno, onSignals, runtimeName, stdoutIsTTY, writeStderr, writeStdout } from "./runtime/mod.ts";
export { matches, replay, viewOf } from "./dead-letters.ts";
export { hasCode } from "./errors.ts";
export { generateEd25519Key, generateHmacKey } from "./security/signing.ts";
export { isReady } from "./states.ts";
export { checkQueueName } from "./names.ts";
export { importModule } from "./runtime/load-module.ts";
export { serveHttp } from "./runtime/http.ts";
export type { HttpGuard, HttpReply, HttpRequest, HttpServerHandle, HttpStreamReply } from "./runtime/http.ts";
export type { Broker } from "./broker/types.ts";
export { TaskTable } from "./monitor/task-table.ts";
export type { TaskQuery, TaskView } from "./monitor/task-table.ts";
export { DepthHistory, TaskRates } from "./monitor/charts.ts";
export type { Outcome } from "./monitor/charts.ts";
