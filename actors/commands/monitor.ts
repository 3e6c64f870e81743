/**
 * `celeriac monitor`: the web dashboard (Flower's job) until SIGTERM/SIGINT.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, numberOption } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { startMonitor } from "../monitor/server.ts";
import { Exit } from "../exit-codes.ts";
import { onSignals, writeStderr } from "../../src/runtime/mod.ts";

export const monitorCommand: Command = {
  name: "monitor",
  summary: "serve the web dashboard",
  help: `Usage: celeriac monitor [--port 5555] [--address 127.0.0.1] [-Q a,b]

A web dashboard: workers (from their heartbeats), queues (waiting, in flight, consumers), and
recent tasks with their states, arguments, results and errors. Tasks appear when workers send
events (celeriac worker -E); on start the monitor reads the events stream's recent history.
JSON under /api: workers, queues, tasks?state=&name=&limit=, task/<id>, summary.

Options:
  --port <port>             port to listen on (default 5555)
  --address <ip>            address to bind (default 127.0.0.1; 0.0.0.0 in a container)
  -Q, --queues <a,b>        queues to show even when no worker consumes them
  --max-tasks <n>           tasks kept in memory (default 10000)

${GLOBAL_HELP}`,
  options: {
    port: { type: "string" },
    address: { type: "string" },
    queues: { type: "string", short: "Q" },
    "max-tasks": { type: "string" },
  },
  async run({ values, flags }) {
    const app = await loadApp(flags, "monitor");
    writeStderr(`connecting to the broker at ${app.config.brokerUrl.replace(/\/\/[^@/]*@/, "//***@")}...\n`);
    const monitor = await startMonitor(app, {
      port: numberOption("port", values.port) ?? 5555,
      address: (values.address as string | undefined) ?? "127.0.0.1",
      queues: typeof values.queues === "string" ? values.queues.split(",").map((q) => q.trim()).filter(Boolean) : [app.config.defaultQueue],
      maxTasks: numberOption("max-tasks", values["max-tasks"]) ?? 10_000,
      historyMs: 10 * 60_000,
    });
    writeStderr(`celeriac monitor for app ${app.name} on http://${(values.address as string | undefined) ?? "127.0.0.1"}:${monitor.port}/ ready.\n`);
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
