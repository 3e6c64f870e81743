/**
 * `celeriac worker`: runs a worker until SIGTERM/SIGINT (warm shutdown; a second signal is cold).
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, numberOption, out } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { banner } from "../banner.ts";
import { CliError, Exit } from "../exit-codes.ts";
import { createLogger, parseLogLevel } from "../../src/mod.ts";
import { cwd, hostname, onSignals, writeStderr } from "../../src/internal.ts";
import type { Pool } from "../../src/mod.ts";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_GRACE_SECONDS } from "../contract.ts";
import { BEAT_OPTIONS, beatFromFlags, describeSchedule } from "./beat.ts";
import { startTracing } from "../otel.ts";

/** Expands Celery's node-name placeholders: %h host, %n short host, %d domain. */
export function expandNodeName(name: string): string {
  const host = hostname();
  const [short, ...rest] = host.split(".");
  return name.replace(/%h/g, host).replace(/%n/g, short ?? host).replace(/%d/g, rest.join("."));
}

export const workerCommand: Command = {
  name: "worker",
  summary: "run a worker",
  help: `Usage: celeriac worker -A ./tasks.ts [options]

Runs a worker that consumes the given queues until SIGTERM or SIGINT. The first signal starts a
warm shutdown (stop pulling, let running tasks finish within the grace period, hand the rest back);
a second signal shuts down cold (hand back everything now).

Options:
  -Q, --queues <a,b>        queues to consume (default: the app's defaultQueue)
  -c, --concurrency <n>     tasks run at once (default 16; with -P process or threads, the
                            number of CPU cores)
  -P, --pool <pool>         execution pool: async (default: tasks share the event loop, for
                            I/O-bound work), process (child processes) or threads (worker
                            threads): for CPU-bound or untrusted code, and hard time limits
                            that stop the task
  --time-limit <s>          hard time limit of tasks that set none (process/threads: the child
                            is killed and replaced; async: the task fails, its signal aborts)
  --soft-time-limit <s>     soft time limit of tasks that set none (aborts ctx.signal)
  --max-tasks-per-child <n> replace a child after n tasks (process, threads)
  --max-memory-per-child <KiB>
                            replace a child after a task that leaves it above this memory
  --autoscale <max,min>     grow the pool up to max while tasks wait; shrink to min when idle
  -n, --hostname <name>     worker name, %h = host name (default celeriac@%h)
  --grace <seconds>         warm-shutdown grace period (default ${DEFAULT_GRACE_SECONDS})
  -E, --events              send task events (celeriac events, monitors)
  --health-port <port>      serve /livez, /readyz and /metrics on this port (default: off)
  -B, --beat                also run the beat scheduler in this worker (see celeriac beat --help
                            for --lease-ttl, --catch-up, --missed)

${GLOBAL_HELP}

Tracing: with OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER) set, spans are exported over
OTLP/HTTP (on Deno: set OTEL_DENO=true). See docs/operations.md.

Example:
  celeriac worker -A ./tasks.ts -c 8 -Q celery -l info -E --health-port 9808`,
  options: {
    queues: { type: "string", short: "Q" },
    concurrency: { type: "string", short: "c" },
    pool: { type: "string", short: "P" },
    "time-limit": { type: "string" },
    "soft-time-limit": { type: "string" },
    "max-tasks-per-child": { type: "string" },
    "max-memory-per-child": { type: "string" },
    autoscale: { type: "string" },
    hostname: { type: "string", short: "n" },
    grace: { type: "string" },
    events: { type: "boolean", short: "E" },
    "health-port": { type: "string" },
    beat: { type: "boolean", short: "B" },
    ...BEAT_OPTIONS,
  },
  async run({ values, flags }) {
    const level = parseLogLevel(flags.loglevel ?? "warning");
    if (!level) throw new CliError(Exit.USAGE, `--loglevel: unknown level ${JSON.stringify(flags.loglevel)}`);
    const app = await loadApp(flags, "worker", { required: true });
    app.log = createLogger(level, { process: "MainProcess" });
    const concurrency = numberOption("concurrency", values.concurrency);
    const grace = numberOption("grace", values.grace);
    const healthPort = numberOption("health-port", values["health-port"]);
    if (healthPort !== undefined && (!Number.isInteger(healthPort) || healthPort < 0 || healthPort > 65535)) {
      throw new CliError(Exit.USAGE, `--health-port: expected a port number, got ${values["health-port"]}`);
    }
    const worker = app.worker({
      queues: typeof values.queues === "string" ? values.queues.split(",").map((q) => q.trim()).filter(Boolean) : undefined,
      concurrency,
      pool: values.pool as Pool | undefined,
      // Children of the process and threads pools load the same module.
      ...(values.pool !== undefined && values.pool !== "async" ? { appModule: pathToFileURL(path.resolve(cwd(), flags.app!)).href } : {}),
      timeLimit: numberOption("time-limit", values["time-limit"]),
      softTimeLimit: numberOption("soft-time-limit", values["soft-time-limit"]),
      maxTasksPerChild: numberOption("max-tasks-per-child", values["max-tasks-per-child"]),
      maxMemoryPerChild: numberOption("max-memory-per-child", values["max-memory-per-child"]),
      autoscale: autoscaleOption(values.autoscale),
      hostname: typeof values.hostname === "string" ? expandNodeName(values.hostname) : undefined,
      gracePeriod: grace ?? DEFAULT_GRACE_SECONDS,
      ...(values.events ? { events: true } : {}),
      ...(healthPort !== undefined ? { healthPort } : {}),
    });
    // Before anything connects, so the first publish is already traced.
    const stopTracing = await startTracing("worker");
    const cfg = app.config;
    writeStderr(`connecting to the broker at ${redact(cfg.brokerUrl)} and results at ${redact(cfg.resultBackend)}...\n`);
    await app.connect();
    out(banner(app, worker, (await app.broker()).description, (await app.backend()).description, {
      events: Boolean(values.events) || app.config.workerSendTaskEvents,
      beat: Boolean(values.beat),
    }));
    const beat = values.beat ? beatFromFlags(app, values) : null;
    if (beat) out(`[beat]\n${describeSchedule(beat).join("\n")}\n`);
    let signals = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const off = onSignals(["SIGTERM", "SIGINT"], (sig) => {
      signals++;
      if (signals === 1) {
        app.log.warn(`${sig} received: warm shutdown (${sig === "SIGINT" ? "press Ctrl-C again" : "send again"} for cold shutdown)`);
        void Promise.all([worker.stop(), beat?.stop()]).then(resolveDone, resolveDone);
      } else {
        app.log.warn(`${sig} received again: cold shutdown, handing back running tasks`);
        void worker.stop({ grace: 0 });
      }
    });
    worker.events.on("error", (err) => app.log.debug(`background: ${err.message}`));
    // A remote `control shutdown` stops the worker without a signal.
    worker.events.on("state", (s) => {
      if (s === "stopped" && signals === 0) void Promise.resolve(beat?.stop()).then(resolveDone, resolveDone);
    });
    await worker.start();
    beat?.start();
    if (worker.healthPort !== null) writeStderr(`health: http://0.0.0.0:${worker.healthPort}/livez /readyz /metrics\n`);
    writeStderr(`${worker.hostname} ready.\n`);
    await done;
    off();
    await app.close();
    await stopTracing();
    return Exit.OK;
  },
};

/** `--autoscale max,min`, in Celery's order. */
function autoscaleOption(raw: unknown): [number, number] | undefined {
  if (raw === undefined) return undefined;
  const m = typeof raw === "string" ? raw.match(/^\s*(\d+)\s*,\s*(\d+)\s*$/) : null;
  if (!m) throw new CliError(Exit.USAGE, `--autoscale: expected max,min (e.g. 8,2), got ${JSON.stringify(raw)}`);
  return [Number(m[1]), Number(m[2])];
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
