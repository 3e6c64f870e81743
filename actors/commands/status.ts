/**
 * `celeriac status`: lists workers from the registry (KV `<p>_workers`) with their state.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, out, render } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { Exit } from "../exit-codes.ts";
import { MISSED_HEARTBEATS_OFFLINE, type WorkerStatus, workerStatus } from "../../src/mod.ts";
import { writeStderr } from "../../src/internal.ts";

function ago(s: number): string {
  return s < 90 ? `${s.toFixed(1)}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`;
}

/** One line per worker. */
export function statusLine(w: WorkerStatus): string {
  if (w.status === "online") {
    return `${w.hostname}: online  (heartbeat ${ago(w.age)} ago, ${w.active} active, ${w.processed} processed, ` +
      `${w.concurrency} slots, queues ${w.queues.join(",")}, pid ${w.pid}, ${w.sw_sys})`;
  }
  return `${w.hostname}: OFFLINE (${w.reason === "stopped" ? "stopped" : `missed ${MISSED_HEARTBEATS_OFFLINE}+ heartbeats`}; ` +
    `last seen ${ago(w.age)} ago, pid ${w.pid})`;
}

export const statusCommand: Command = {
  name: "status",
  summary: "list workers and whether they are online",
  help: `Usage: celeriac status [--all] [--json]

Lists the workers in the registry: online, or offline because they stopped or missed two
heartbeats (killed, cut off). Stopped workers are listed for an hour after they stopped.
Exit code: 0 if at least one worker is online, 69 if none is.

Options:
  --all                     also list workers that stopped cleanly
  --json                    print the registry entries as JSON

${GLOBAL_HELP}`,
  options: { all: { type: "boolean" }, json: { type: "boolean" } },
  async run({ values, flags }) {
    const app = await loadApp(flags, "status");
    try {
      const all = await workerStatus(await app.broker(), app.config.names);
      const shown = values.all ? all : all.filter((w) => !(w.status === "offline" && w.reason === "stopped"));
      const online = all.filter((w) => w.status === "online").length;
      if (values.json) out(render(shown));
      else {
        for (const w of shown) out(statusLine(w));
        out(`\n${online} node${online === 1 ? "" : "s"} online.`);
        const paused = await app.control.pausedQueues();
        if (paused.length > 0) out(`paused queues: ${paused.join(", ")}`);
      }
      if (online === 0) writeStderr("no worker is online\n");
      return online > 0 ? Exit.OK : Exit.UNAVAILABLE;
    } finally {
      await app.close();
    }
  },
};
