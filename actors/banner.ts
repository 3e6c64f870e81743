/**
 * The worker's start-up banner, in the spirit of Celery's.
 */
import type { Celeriac, Worker } from "../src/mod.ts";
import { runtimeName } from "../src/internal.ts";
import os from "node:os";

/** Renders the banner for a worker about to start. */
export function banner(
  app: Celeriac,
  worker: Worker,
  transport: string,
  results: string,
  extra: { events: boolean; beat: boolean },
): string {
  const o = worker.options;
  const cfg = app.config;
  const now = new Date().toISOString().replace("T", " ").slice(0, 19);
  const left = [
    " -------------- ",
    "--- ***** ----- ",
    "-- ******* ---- ",
    "- *** --- * --- ",
    "- ** ---------- ",
    "- ** ---------- ",
    "- ** ---------- ",
    "- ** ---------- ",
    "- *** --- * --- ",
    "-- ******* ---- ",
    "--- ***** ----- ",
    " -------------- ",
  ];
  const right = [
    `${worker.hostname} celeriac (${runtimeName()})`,
    "",
    `${os.type()}-${os.arch()} ${now}`,
    "",
    "[config]",
    `.> app:         ${cfg.name}`,
    `.> transport:   ${transport}`,
    `.> results:     ${results}`,
    `.> concurrency: ${o.autoscale ? `{min=${o.autoscale.min}, max=${o.autoscale.max}} ` : ""}${o.concurrency} (${o.pool})`,
    `.> pool:        ${poolNote(o.pool, o.timeLimitMs)}`,
    `.> task events: ${extra.events ? "ON" : "OFF (enable -E to monitor tasks in this worker)"}`,
    `.> beat:        ${extra.beat ? "ON (embedded)" : "OFF"}`,
    "[queues]",
  ];
  const lines = left.map((l, i) => `${l}${right[i] ?? ""}`);
  for (const q of o.queues) {
    lines.push(`                .> ${q.padEnd(16)} stream=${cfg.names.streamFor(q)} durable=${cfg.names.durable(q)}`);
  }
  lines.push("", "[tasks]");
  for (const name of [...app.tasks.keys()].filter((n) => !n.startsWith("celery.")).sort()) lines.push(`  . ${name}`);
  lines.push(...security(app));
  return lines.join("\n") + "\n";
}

/** Which code the pool suits, said where an operator reads it. */
function poolNote(pool: string, timeLimitMs: number | null): string {
  if (pool !== "async") {
    return `${pool}: tasks run in ${
      pool === "process" ? "child processes" : "worker threads"
    }; hard time limits and revoke --terminate stop them`;
  }
  return `async: tasks share the event loop (I/O-bound work); CPU-bound or untrusted code needs -P process or -P threads` +
    (timeLimitMs ? "; a hard time limit fails a task but cannot stop it here" : "");
}

/** What protects this worker's connections and messages (no secrets, only their kinds and key ids). */
function security(app: Celeriac): string[] {
  const sec = app.config.security;
  const signing = app.signing();
  const out: string[] = [];
  if (sec.broker.auth.kind !== "none" || sec.broker.tls) {
    out.push(
      `.> broker:      ${
        [sec.broker.auth.kind !== "none" ? `auth ${sec.broker.auth.kind}` : "", sec.broker.tls ? "TLS files" : ""].filter(Boolean).join(
          ", ",
        )
      }`,
    );
  }
  if (signing) {
    const own = signing.signer ? `signs ${signing.signer.alg} ${signing.signer.keyId}` : "does not sign";
    out.push(
      `.> signing:     ${own}; checks against ${signing.verifier.size} key(s); ${
        signing.require ? "REQUIRED" : "not required (unsigned messages run)"
      }`,
    );
  }
  return out.length ? ["", "[security]", ...out] : [];
}
