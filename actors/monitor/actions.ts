/**
 * The monitor's actions (POST /api/action/<name>, a JSON body): revoke and terminate, rate limits
 * (per worker and cluster-wide), pool size, consumers, pausing and resuming a queue, retrying a
 * failed task, dead-letter replay and purge. Each answers what
 * the cluster said, so the page can show it.
 *
 * Cross-site request forgery: a browser sends basic-auth credentials with any request to the
 * monitor, including one a hostile page makes it send. An action therefore needs the token the
 * monitor put into its own page (header `x-csrf-token`), a JSON body (a form cannot send one
 * without a CORS preflight, which the monitor never grants), and, when the browser names an
 * Origin, the monitor's own host.
 */
import { timingSafeEqual } from "node:crypto";
import type { Replies } from "../../src/mod.ts";
import { type HttpReply, type HttpRequest, matches, replay } from "../../src/internal.ts";
import { json, type MonitorState } from "./api.ts";

/** Refuses a request that fails the CSRF checks above; null lets it through. */
export function csrfCheck(req: HttpRequest, token: string): HttpReply | null {
  const given = new TextEncoder().encode(req.headers["x-csrf-token"] ?? "");
  const want = new TextEncoder().encode(token);
  if (given.length !== want.length || !timingSafeEqual(given, want)) {
    return json({ error: "missing or wrong CSRF token (reload the page)" }, 403);
  }
  if (!(req.headers["content-type"] ?? "").startsWith("application/json")) return json({ error: "actions take a JSON body" }, 415);
  const origin = req.headers.origin;
  if (origin && origin !== "null") {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return json({ error: `bad Origin ${origin}` }, 403);
    }
    if (host !== req.headers.host) return json({ error: `cross-origin action refused (${origin})` }, 403);
  }
  return null;
}

class ActionError extends Error {}

const str = (body: Record<string, unknown>, field: string): string => {
  const v = body[field];
  if (typeof v !== "string" || v.trim() === "") throw new ActionError(`${field}: required`);
  return v.trim();
};
const int = (body: Record<string, unknown>, field: string, dflt: number): number => {
  const v = body[field] === undefined || body[field] === "" ? dflt : Number(body[field]);
  if (!Number.isInteger(v) || v < 1) throw new ActionError(`${field}: must be a whole number ≥ 1`);
  return v;
};
const workers = (body: Record<string, unknown>) =>
  typeof body.worker === "string" && body.worker ? { destination: [body.worker], timeout: 2 } : { timeout: 2 };

/** What each action does; the value is the reply shown on the page. */
const ACTIONS: Record<string, (s: MonitorState, body: Record<string, unknown>) => Promise<unknown>> = {
  revoke: async (s, b) => await s.app.control.revoke(str(b, "id"), { terminate: b.terminate === true, timeout: 2 }),
  // Cluster-wide (`global`): every worker hears it; otherwise the worker named, or all.
  "rate-limit": async (s, b) => {
    const rate = typeof b.rate === "string" && b.rate ? b.rate : null;
    const global = b.global === true || b.global === "true";
    return await s.app.control.rateLimit(str(b, "task"), rate, global ? { global: true, timeout: 2 } : workers(b));
  },
  "pause-queue": async (s, b) => await s.app.control.pauseQueue(str(b, "queue"), { timeout: 2 }),
  "resume-queue": async (s, b) => await s.app.control.resumeQueue(str(b, "queue"), { timeout: 2 }),
  "pool-grow": async (s, b) => await s.app.control.poolGrow(int(b, "n", 1), workers(b)),
  "pool-shrink": async (s, b) => await s.app.control.poolShrink(int(b, "n", 1), workers(b)),
  "add-consumer": async (s, b) => await s.app.control.addConsumer(str(b, "queue"), workers(b)),
  "cancel-consumer": async (s, b) => await s.app.control.cancelConsumer(str(b, "queue"), workers(b)),
  retry: async (s, b) => {
    const id = str(b, "id");
    const record = await s.app.AsyncResult(id).record();
    if (!record) throw new ActionError(`no stored result for ${id}`);
    if (record.status !== "FAILURE" && record.status !== "REVOKED" && record.status !== "REJECTED") {
      throw new ActionError(`task ${id} is ${record.status}: only a failed, revoked or rejected task is retried`);
    }
    if (!record.name || !Array.isArray(record.args)) {
      throw new ActionError(
        `the record of ${id} has no name and arguments: start the app with resultExtended: true to retry from the monitor`,
      );
    }
    const r = await s.app.sendTask(record.name, record.args, {
      kwargs: record.kwargs ?? {},
      ...(record.queue ? { queue: record.queue } : {}),
    });
    return { ok: `sent ${record.name} again as ${r.id}`, id: r.id };
  },
  "dlq-replay": async (s, b) => {
    const ref = String(b.seq ?? b.id ?? "");
    if (!ref) throw new ActionError("seq: required");
    const letters = await s.broker.listDeadLetters({ limit: Number.MAX_SAFE_INTEGER });
    const d = letters.find((x) => matches(x, ref));
    if (!d) throw new ActionError(`no dead letter ${ref}`);
    const backend = await s.app.backend();
    const r = await replay(s.broker, d, { forget: (id) => backend.forget(id), signing: s.app.signing() });
    return { ok: `replayed ${d.seq} to ${r.queue}` };
  },
  "dlq-purge": async (s, b) => {
    const queue = typeof b.queue === "string" && b.queue ? b.queue : undefined;
    const n = await s.broker.purgeDeadLetters(queue);
    return { ok: `purged ${n} dead letter${n === 1 ? "" : "s"}${queue ? ` of ${queue}` : ""}` };
  },
};

/** The actions the monitor knows. */
export const ACTION_NAMES: readonly string[] = Object.keys(ACTIONS);

/** Runs `/api/action/<name>` after the checks; the reply carries the cluster's answer or the error. */
export async function runAction(s: MonitorState, name: string, req: HttpRequest, csrfToken: string): Promise<HttpReply> {
  if (req.method !== "POST") return { status: 405, body: "actions are POST\n", headers: { allow: "POST" } };
  if (s.readOnly) return json({ error: "the monitor is read-only (--read-only): actions are off" }, 403);
  const refused = csrfCheck(req, csrfToken);
  if (refused) return refused;
  const action = ACTIONS[name];
  if (!action) return json({ error: `unknown action ${name}; known: ${ACTION_NAMES.join(", ")}` }, 404);
  let body: Record<string, unknown>;
  try {
    const parsed = JSON.parse(await req.text());
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    body = parsed;
  } catch (err) {
    return json({ error: `the body is not a JSON object: ${(err as Error).message}` }, 400);
  }
  try {
    const reply = await action(s, body);
    return json({ action: name, reply, summary: summarise(reply) });
  } catch (err) {
    const known = err instanceof ActionError || (err as { code?: unknown }).code !== undefined;
    return json({ action: name, error: (err as Error).message }, known ? 400 : 500);
  }
}

/** One line for the page: what the workers (or the monitor) answered. */
function summarise(reply: unknown): string {
  if (reply && typeof reply === "object" && "ok" in reply) return String((reply as { ok: unknown }).ok);
  const replies = reply as Replies<{ ok?: string; error?: string }>;
  const parts = Object.entries(replies ?? {}).map(([w, r]) => `${w}: ${r?.ok ?? r?.error ?? JSON.stringify(r)}`);
  return parts.length ? parts.join("; ") : "no worker answered";
}
