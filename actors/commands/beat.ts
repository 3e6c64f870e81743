/**
 * `celeriac beat`: runs the periodic-task scheduler until SIGTERM/SIGINT. Several may run: one
 * leads, the others wait to take over.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, numberOption, out } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit } from "../exit-codes.ts";
import { type Beat, type Celeriac, createLogger, type MissedPolicy, parseLogLevel } from "../../src/mod.ts";
import { onSignals, writeStderr } from "../../src/internal.ts";
import { startTracing } from "../otel.ts";

/** Options shared by `beat` and `worker -B`. */
export const BEAT_OPTIONS = {
  "lease-ttl": { type: "string" },
  "catch-up": { type: "string" },
  missed: { type: "string" },
} as const;

/** Builds the beat from the command line (also used by `worker -B`). */
export function beatFromFlags(app: Celeriac, values: Record<string, unknown>): Beat {
  const missed = values.missed;
  if (missed !== undefined && missed !== "run-once" && missed !== "skip") {
    throw new CliError(Exit.USAGE, `--missed: use run-once or skip, got ${JSON.stringify(missed)}`);
  }
  const beat = app.beat({
    ...(values["lease-ttl"] !== undefined ? { leaseTtl: numberOption("lease-ttl", values["lease-ttl"]) } : {}),
    ...(values["catch-up"] !== undefined ? { catchUp: numberOption("catch-up", values["catch-up"]) } : {}),
    ...(missed ? { missed: missed as MissedPolicy } : {}),
  });
  beat.events.on(
    "leader",
    (held) => writeStderr(held ? "beat: leading; firing periodic tasks\n" : "beat: not leading; waiting to take over\n"),
  );
  return beat;
}

/** Lines describing the schedule, for banners. */
export function describeSchedule(beat: Beat): string[] {
  if (beat.entries.length === 0) return ["  (no entries: add beatSchedule to the app)"];
  return beat.entries.map(([name, e]) => `  . ${name}: ${e.task} ${e.schedule}`);
}

export const beatCommand: Command = {
  name: "beat",
  summary: "run the periodic-task scheduler",
  help: `Usage: celeriac beat -A ./tasks.ts [options]

Fires the app's beatSchedule entries. Run two or more for availability: one leads through a
lease in NATS KV; when it dies another takes over within the lease TTL, firing whatever it
missed, and every fire carries a deduplicating id so no occurrence runs twice.

Options:
  --lease-ttl <seconds>     leader lease time to live (default 5)
  --catch-up <seconds>      occurrences missed up to this long ago are all fired (default 60)
  --missed run-once|skip    older missed occurrences: fire the latest once, or skip (default run-once)

${GLOBAL_HELP}`,
  options: BEAT_OPTIONS,
  async run({ values, flags }) {
    const level = parseLogLevel(flags.loglevel ?? "info");
    if (!level) throw new CliError(Exit.USAGE, `--loglevel: unknown level ${JSON.stringify(flags.loglevel)}`);
    const app = await loadApp(flags, "beat", { required: true });
    app.log = createLogger(level, { process: "Beat" });
    const beat = beatFromFlags(app, values);
    const stopTracing = await startTracing("beat");
    writeStderr(`connecting to the broker at ${app.config.brokerUrl.replace(/\/\/[^@/]*@/, "//***@")}...\n`);
    await app.broker();
    out(
      `celeriac beat: app ${app.name}, ${beat.entries.length} entr${beat.entries.length === 1 ? "y" : "ies"}\n${
        describeSchedule(beat).join("\n")
      }`,
    );
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const off = onSignals(["SIGTERM", "SIGINT"], (sig) => {
      app.log.warn(`${sig} received: stopping beat (handing over the lease)`);
      void beat.stop().then(resolveDone, resolveDone);
    });
    beat.start();
    writeStderr(`beat ready. waiting for the leader lease (${app.config.names.beatLockBucket}/beat)...\n`);
    await done;
    off();
    await app.close();
    await stopTracing();
    return Exit.OK;
  },
};
