/**
 * `celeriac events`: a live, readable view of task and worker events (Celery's `celery events
 * --dump`, one line per event): the recent history kept by the events stream first, then live.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, numberOption, out, render } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit } from "../exit-codes.ts";
import { type CeleriacEvent, recentEvents, watchEvents } from "../../src/mod.ts";
import { onSignals, stdoutIsTTY, writeStderr } from "../../src/internal.ts";

const COLORS: Record<string, string> = {
  "task-succeeded": "\x1b[32m",
  "task-failed": "\x1b[31m",
  "task-rejected": "\x1b[31m",
  "task-revoked": "\x1b[33m",
  "task-retried": "\x1b[33m",
  "worker-offline": "\x1b[31m",
  "worker-online": "\x1b[36m",
};

function clock(ts: number): string {
  const d = new Date(ts * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The readable line of one event. */
export function eventLine(e: CeleriacEvent, color = false): string {
  const task = e.uuid ? `${e.name ?? "?"}[${e.uuid}]` : "";
  let detail = "";
  switch (e.type) {
    case "task-sent":
    case "task-received":
      detail = `args=${e.args} kwargs=${e.kwargs}${e.retries ? ` retries=${e.retries}` : ""}${e.eta ? ` eta=${e.eta}` : ""}`;
      break;
    case "task-succeeded":
      detail = `${Number(e.runtime).toFixed(4)}s result=${e.result}`;
      break;
    case "task-failed":
    case "task-retried":
      detail = String(e.exception);
      break;
    case "task-revoked":
      detail = String(e.reason ?? (e.terminated ? "terminated" : ""));
      break;
    case "task-rejected":
      detail = `${e.requeue ? "requeued" : "dead-lettered"}: ${e.reason ?? ""}`;
      break;
    case "worker-online":
    case "worker-heartbeat":
    case "worker-offline":
      detail = `active=${e.active} processed=${e.processed} load=${
        (e.loadavg as number[] | undefined)?.map((x) => x.toFixed(2)).join(",")
      }`;
      break;
  }
  const type = color && COLORS[e.type] ? `${COLORS[e.type]}${e.type.padEnd(15)}\x1b[0m` : e.type.padEnd(15);
  return `${clock(e.timestamp)} ${e.hostname.padEnd(20)} ${type} ${task}${task && detail ? " " : ""}${detail}`;
}

export const eventsCommand: Command = {
  name: "events",
  summary: "watch task and worker events live",
  help: `Usage: celeriac events [options]

Prints task and worker events as they happen, one line each: first the recent history kept by
the events stream (<P>_EVENTS), then live until Ctrl-C. Workers send task events with -E (or
\`celeriac control enable-events\`); callers send task-sent with taskSendSentEvent.

Options:
  --since <seconds>         history to show first (default 60; 0 = none)
  --for <seconds>           stop after this long (default: until Ctrl-C)
  --no-follow               print the history and exit
  --heartbeats              also show worker-heartbeat events (every 2 s per worker)
  --task <name>             only events of this task name
  --json                    one JSON event per line

${GLOBAL_HELP}`,
  options: {
    since: { type: "string" },
    for: { type: "string" },
    "no-follow": { type: "boolean" },
    heartbeats: { type: "boolean" },
    task: { type: "string" },
    json: { type: "boolean" },
  },
  async run({ values, flags }) {
    const since = numberOption("since", values.since) ?? 60;
    const duration = numberOption("for", values.for);
    if (since < 0 || (duration !== undefined && duration < 0)) throw new CliError(Exit.USAGE, "--since/--for: must be seconds ≥ 0");
    const color = !values.json && stdoutIsTTY();
    const app = await loadApp(flags, "events");
    const show = (e: CeleriacEvent) => {
      if (e.type === "worker-heartbeat" && !values.heartbeats) return;
      if (values.task && e.name !== values.task) return;
      out(values.json ? render(e) : eventLine(e, color));
    };
    try {
      const broker = await app.broker();
      // Live events are buffered while the history is read, then printed after it, without repeats.
      const live: CeleriacEvent[] = [];
      let replaying = true;
      const seen = new Set<string>();
      const key = (e: CeleriacEvent) => `${e.hostname}|${e.clock}|${e.type}`;
      const off = values["no-follow"] ? () => {} : watchEvents(broker, app.config.names, (e) => {
        if (replaying) live.push(e);
        else show(e);
      });
      if (since > 0) {
        for (const e of await recentEvents(broker, Date.now() - since * 1000)) {
          seen.add(key(e));
          show(e);
        }
      }
      replaying = false;
      for (const e of live) if (!seen.has(key(e))) show(e);
      if (values["no-follow"]) return Exit.OK;
      writeStderr(`watching events of app ${app.name}${duration !== undefined ? ` for ${duration}s` : " (Ctrl-C to stop)"}...\n`);
      let offSignals = () => {};
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        offSignals = onSignals(["SIGINT", "SIGTERM"], () => resolve());
        if (duration !== undefined) timer = setTimeout(resolve, duration * 1000);
      });
      clearTimeout(timer);
      offSignals();
      off();
      return Exit.OK;
    } finally {
      await app.close();
    }
  },
};
