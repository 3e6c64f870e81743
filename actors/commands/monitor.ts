/**
 * `celeriac monitor`: the web dashboard (Flower's job) until SIGTERM/SIGINT.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, numberOption } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { startMonitor } from "../monitor/server.ts";
import { CliError, Exit } from "../exit-codes.ts";
import { ENV } from "../contract.ts";
import { parseBasicAuth } from "../monitor/auth.ts";
import { env, onSignals, writeStderr } from "../../src/internal.ts";

const isLoopback = (address: string) => address === "localhost" || address === "::1" || address.startsWith("127.");

function traceUrl(flag: string | undefined): string | null {
  const t = flag ?? env(ENV.MONITOR_TRACE_URL);
  if (!t) return null;
  if (!t.includes("{traceId}")) throw new CliError(Exit.USAGE, `--trace-url: "${t}" has no {traceId} placeholder`);
  return t;
}

export const monitorCommand: Command = {
  name: "monitor",
  summary: "serve the web dashboard",
  help: `Usage: celeriac monitor [--port 5555] [--address 127.0.0.1] [--basic-auth user:pass] [--read-only] [-Q a,b]

A web dashboard (Flower's pages): /, /workers, /worker/<name>, /tasks, /task/<id>, /broker,
/dead-letters, /workflow/<root id>; live through server-sent events. Tasks appear when workers
send events (celeriac worker -E); on start the monitor reads the events stream's recent history.
Actions (revoke, terminate, rate limit, pool grow/shrink, consumers, retry, dead-letter replay
and purge) need the page's CSRF token; --read-only turns them off. /metrics serves cluster-wide
Prometheus metrics (queue depth and oldest age, dead letters, delayed, workers, task events).
JSON under /api: workers, worker/<name>, queues, tasks?state=&name=&worker=&id=&args=&offset=&limit=,
task/<id>, workflow/<root>, charts?name=, dead-letters?queue=, summary. The page and the API
show task arguments and results: bind to a non-loopback address only with --basic-auth (or
behind a proxy that authenticates); /livez stays open for probes.

Options:
  --port <port>             port to listen on (default 5555)
  --address <ip>            address to bind (default 127.0.0.1; 0.0.0.0 in a container)
  --basic-auth <u:p[,...]>  require HTTP basic auth with one of these user:password pairs
                            (or env ${ENV.MONITOR_BASIC_AUTH}, which keeps it out of ps)
  --read-only               refuse every action (viewing only)
  --trace-url <template>    link trace ids to a viewer, e.g. https://jaeger/trace/{traceId}
                            (or env ${ENV.MONITOR_TRACE_URL})
  -Q, --queues <a,b>        queues to show even when no worker consumes them
  --max-tasks <n>           tasks kept in memory (default 10000)

${GLOBAL_HELP}`,
  options: {
    port: { type: "string" },
    address: { type: "string" },
    queues: { type: "string", short: "Q" },
    "max-tasks": { type: "string" },
    "basic-auth": { type: "string" },
    "read-only": { type: "boolean" },
    "trace-url": { type: "string" },
  },
  async run({ values, flags }) {
    const address = (values.address as string | undefined) ?? "127.0.0.1";
    const authSpec = (values["basic-auth"] as string | undefined) ?? env(ENV.MONITOR_BASIC_AUTH);
    let basicAuth: string[] | undefined;
    try {
      basicAuth = authSpec === undefined || authSpec === "" ? undefined : parseBasicAuth(authSpec, "--basic-auth");
    } catch (err) {
      throw new CliError(Exit.USAGE, (err as Error).message);
    }
    const app = await loadApp(flags, "monitor");
    writeStderr(`connecting to the broker at ${app.config.brokerUrl.replace(/\/\/[^@/]*@/, "//***@")}...\n`);
    const monitor = await startMonitor(app, {
      port: numberOption("port", values.port) ?? 5555,
      address,
      basicAuth,
      queues: typeof values.queues === "string" ? values.queues.split(",").map((q) => q.trim()).filter(Boolean) : [app.config.defaultQueue],
      maxTasks: numberOption("max-tasks", values["max-tasks"]) ?? 10_000,
      historyMs: 10 * 60_000,
      readOnly: values["read-only"] === true,
      traceUrl: traceUrl(values["trace-url"] as string | undefined),
    });
    if (!basicAuth && !isLoopback(address)) {
      writeStderr(`warning: the monitor on ${address} shows task arguments and results to anyone who reaches it; add --basic-auth\n`);
    }
    const mode = `${basicAuth ? " (basic auth)" : ""}${values["read-only"] ? " (read-only)" : ""}`;
    writeStderr(`celeriac monitor for app ${app.name} on http://${address}:${monitor.port}/${mode} ready.\n`);
    await new Promise<void>((resolve) => {
      const off = onSignals(["SIGTERM", "SIGINT"], () => {
        off();
        resolve();
      });
    });
    await monitor.close();
    await app.close();
    return Exit.OK;
  },
};
