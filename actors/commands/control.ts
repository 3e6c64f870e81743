/**
 * `celeriac control <command>`: changes what workers do (Celery's `celery control`).
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, out } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit } from "../exit-codes.ts";
import type { BroadcastOptions, Celeriac, Replies } from "../../src/mod.ts";
import { broadcastOptions, printReplies, REMOTE_HELP, REMOTE_OPTIONS, showReply } from "./remote.ts";

function count(raw: string | undefined, what: string): number {
  const n = raw === undefined ? 1 : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new CliError(Exit.USAGE, `control ${what}: expected a count ≥ 1, got ${raw}`);
  return n;
}

function need(v: string | undefined, usage: string): string {
  if (!v) throw new CliError(Exit.USAGE, `usage: celeriac control ${usage}`);
  return v;
}

type Action = (app: Celeriac, a: string[], o: BroadcastOptions, flags: Record<string, unknown>) => Promise<Replies>;

const ACTIONS: Record<string, Action> = {
  revoke: (app, a, o, f) => {
    if (a.length === 0) throw new CliError(Exit.USAGE, "usage: celeriac control revoke <id>... [--terminate]");
    return app.control.revoke(a, { ...o, terminate: Boolean(f.terminate) });
  },
  "rate-limit": (app, a, o, f) =>
    app.control.rateLimit(need(a[0], "rate-limit <task> <rate>"), need(a[1], "rate-limit <task> <rate>"), {
      ...o,
      global: Boolean(f.global),
    }),
  shutdown: (app, _a, o) => app.control.shutdown(o),
  "pool-grow": (app, a, o) => app.control.poolGrow(count(a[0], "pool-grow"), o),
  "pool-shrink": (app, a, o) => app.control.poolShrink(count(a[0], "pool-shrink"), o),
  autoscale: (app, a, o) => {
    const usage = "autoscale <max> <min>";
    return app.control.autoscale(count(need(a[0], usage), usage), count(need(a[1], usage), usage), o);
  },
  "add-consumer": (app, a, o) => app.control.addConsumer(need(a[0], "add-consumer <queue>"), o),
  "cancel-consumer": (app, a, o) => app.control.cancelConsumer(need(a[0], "cancel-consumer <queue>"), o),
  "pause-queue": (app, a, o) => app.control.pauseQueue(need(a[0], "pause-queue <queue>"), o),
  "resume-queue": (app, a, o) => app.control.resumeQueue(need(a[0], "resume-queue <queue>"), o),
  "enable-events": (app, _a, o) => app.control.enableEvents(o),
  "disable-events": (app, _a, o) => app.control.disableEvents(o),
};

export const controlCommand: Command = {
  name: "control",
  summary: "tell workers what to do (revoke, rate-limit, shutdown, pool, consumers, events)",
  help: `Usage: celeriac control <command> [args] [options]

Sends a control command to every worker (or those named with -d) and prints their replies.
Exit code: 0; 69 if no worker replied (a revoke is stored all the same, and workers started
later refuse the task); 1 if a worker refused the command.

Commands:
  revoke <id>... [--terminate]   never run these tasks; --terminate also aborts running ones
                                 (their ctx.signal aborts, the result is REVOKED)
  rate-limit <task> <rate>       set a task's rate limit per worker: 10/s, 100/m, 5/h; 0 = none
             [--global]          ... or for all workers together (the task's globalRateLimit)
  shutdown                       warm shutdown
  pool-grow [n]                  add n slots (default 1)
  pool-shrink [n]                remove n slots (default 1)
  autoscale <max> <min>          grow the pool up to max while tasks wait, shrink to min when idle
  add-consumer <queue>           start consuming a queue
  cancel-consumer <queue>        stop consuming a queue
  pause-queue <queue>            every worker stops taking tasks from the queue, persistently
                                 (workers started later hold off too); running tasks finish
  resume-queue <queue>           undo pause-queue
  enable-events                  start sending task events
  disable-events                 stop sending task events

Options:
${REMOTE_HELP}
  --terminate                with revoke: abort running copies too

${GLOBAL_HELP}

Example:
  celeriac control revoke 3f2a... --terminate
  celeriac control rate-limit fetchPage 10/s -d w1@host`,
  options: { ...REMOTE_OPTIONS, terminate: { type: "boolean" }, global: { type: "boolean" } },
  async run({ values, positionals, flags }) {
    const [name, ...rest] = positionals;
    const action = name ? ACTIONS[name] : undefined;
    if (!action) {
      throw new CliError(
        Exit.USAGE,
        `control: ${name ? `unknown command "${name}"` : "which command?"}; use one of ${Object.keys(ACTIONS).join(", ")}`,
      );
    }
    if (values.terminate && name !== "revoke") throw new CliError(Exit.USAGE, "--terminate: only with revoke");
    if (values.global && name !== "rate-limit") throw new CliError(Exit.USAGE, "--global: only with rate-limit");
    const app = await loadApp(flags, "control");
    try {
      const replies = await action(app, rest, broadcastOptions(values), values);
      const code = printReplies(replies, Boolean(values.json), showReply);
      if (name === "revoke" && code === Exit.UNAVAILABLE) {
        out(`revoked ${rest.join(", ")}: stored; workers started later will refuse ${rest.length === 1 ? "it" : "them"}`);
      }
      if ((name === "pause-queue" || name === "resume-queue") && code === Exit.UNAVAILABLE) {
        out(`${name === "pause-queue" ? "paused" : "resumed"} ${rest[0]}: stored; workers started later follow it`);
        return Exit.OK;
      }
      return code;
    } finally {
      await app.close();
    }
  },
};
