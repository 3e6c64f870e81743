/**
 * What `inspect` and `control` share: options, the scatter-gather call with progress on stderr,
 * and Celery-style output (`-> worker: OK` then the reply), or JSON with --json.
 */
import type { BroadcastOptions, Replies } from "../../src/mod.ts";
import { writeStderr } from "../../src/internal.ts";
import { numberOption, out, render } from "../command.ts";
import { CliError, Exit } from "../exit-codes.ts";

/** Options of both commands. */
export const REMOTE_OPTIONS = {
  destination: { type: "string", short: "d" },
  timeout: { type: "string", short: "t" },
  json: { type: "boolean" },
} as const;

/** Help text of those options. */
export const REMOTE_HELP = `  -d, --destination <w1,w2>  only these workers (names as in \`celeriac status\`)
  -t, --timeout <seconds>    how long to wait for replies (default 1)
  --json                     print the replies as one JSON object keyed by worker`;

/** Broadcast options from the command line, with progress lines on stderr. */
export function broadcastOptions(values: Record<string, unknown>): BroadcastOptions {
  const timeout = numberOption("timeout", values.timeout) ?? 1;
  if (timeout < 0) throw new CliError(Exit.USAGE, "--timeout: must be ≥ 0");
  const destination = typeof values.destination === "string"
    ? values.destination.split(",").map((s) => s.trim()).filter(Boolean)
    : undefined;
  writeStderr(`waiting up to ${timeout}s for replies from ${destination ? destination.join(", ") : "all workers"}...\n`);
  return { timeout, destination, onReply: (h) => writeStderr(`  reply from ${h}\n`) };
}

function ok(reply: unknown): boolean {
  return !(typeof reply === "object" && reply !== null && "error" in reply);
}

/** Prints replies; returns the exit code (69 when nobody answered, 1 when a worker refused). */
export function printReplies(replies: Replies, json: boolean, show: (reply: unknown) => string[]): number {
  const names = Object.keys(replies).sort();
  if (json) out(render(replies));
  else {
    for (const name of names) {
      const r = replies[name];
      out(`-> ${name}: ${ok(r) ? "OK" : "ERROR"}`);
      for (const line of ok(r) ? show(r) : [String((r as { error: unknown }).error)]) out(`    ${line}`);
    }
  }
  if (names.length === 0) {
    writeStderr("Error: no nodes replied within time constraint.\n");
    return Exit.UNAVAILABLE;
  }
  if (!json) out(`\n${names.length} node${names.length === 1 ? "" : "s"} online.`);
  return names.every((n) => ok(replies[n])) ? Exit.OK : Exit.FAILURE;
}

/** Default rendering: `{ ok: "..." }` as its text, lists one item a line, the rest as JSON. */
export function showReply(reply: unknown): string[] {
  if (typeof reply === "object" && reply !== null && "ok" in reply && Object.keys(reply).length === 1) {
    return [String((reply as { ok: unknown }).ok)];
  }
  if (Array.isArray(reply)) {
    if (reply.length === 0) return ["- empty -"];
    return reply.map((x) => (typeof x === "string" ? `* ${x}` : `* ${taskLine(x)}`));
  }
  return JSON.stringify(reply, null, 2).split("\n");
}

function taskLine(x: unknown): string {
  const t = x as { id?: string; name?: string; args?: unknown; kwargs?: unknown; time_start?: number | null; name_?: string };
  if (t && typeof t.id === "string" && typeof t.name === "string") {
    const started = t.time_start ? ` started ${new Date(t.time_start * 1000).toISOString()}` : " waiting";
    return `${t.name}[${t.id}] ${render(t.args ?? [])} ${render(t.kwargs ?? {})}${started}`;
  }
  return render(x);
}
