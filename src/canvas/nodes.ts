/**
 * A canvas's shape, read from its data: the ids it needs (assigned once, when it is applied), the
 * handle structure a client waits on, and the parts of compound signatures.
 */
import type { SignatureData } from "../protocol/message.ts";
import { InvalidArgumentError } from "../errors.ts";

/** What a result handle is made of: a task, or a group of them; `parent` for chains. */
export type ResultNode =
  | { kind: "task"; id: string; parent?: ResultNode }
  | { kind: "group"; id: string; members: ResultNode[]; parent?: ResultNode };

const uuid = () => crypto.randomUUID();

/**
 * Assigns every id a canvas needs, in place (task ids, group ids, bodies), keeping those it has.
 * With `base`, the ids are derived from it (`base`, `base.0`, `base.1`, `base.h`…) instead of
 * random: applied again, the same canvas gets the same ids.
 */
export function ensureIds(sig: SignatureData, base?: string): void {
  const at = (part: string | number) => base === undefined ? undefined : `${base}.${part}`;
  switch (sig.subtask_type) {
    case "chain":
      tasksOf(sig).forEach((s, i) => ensureIds(s, at(i)));
      return;
    case "group":
      sig.options.group_id ??= base ?? uuid();
      tasksOf(sig).forEach((s, i) => ensureIds(s, at(i)));
      return;
    case "chord":
      ensureIds(headerOf(sig), at("h"));
      ensureIds(bodyOf(sig), base);
      return;
    default:
      sig.options.task_id ??= base ?? uuid();
  }
}

/**
 * A copy of a callback or errback with ids derived from `id` (its parent's) where it has none —
 * its own task id, or for a compound one every part's: a worker that applies it again (a replay
 * after a crash) publishes the same ids, which JetStream drops as duplicates.
 */
export function fixedId(sig: SignatureData, id: string): SignatureData {
  const s = structuredClone(sig);
  ensureIds(s, id);
  return s;
}

/**
 * Gives a compound canvas's handle the id asked for with `taskId` (as Celery's `task_id` on a
 * chain or chord): a chain's last task, a chord's body. A group has no task id of its own.
 */
export function setHandleId(sig: SignatureData, id: string): void {
  switch (sig.subtask_type) {
    case "chain": {
      const last = tasksOf(sig).at(-1);
      if (!last) throw new InvalidArgumentError("chain", "is empty");
      return setHandleId(last, id);
    }
    case "chord":
      return setHandleId(bodyOf(sig), id);
    case "group":
      throw new InvalidArgumentError("taskId", "a group has no task id of its own (its handle is a GroupResult): set ids on its members");
    default:
      sig.options.task_id = id;
  }
}

/** The handle structure of a canvas whose ids are assigned. */
export function nodeOf(sig: SignatureData): ResultNode {
  switch (sig.subtask_type) {
    case "chain": {
      let node: ResultNode | undefined;
      for (const s of normalizeChain(tasksOf(sig))) {
        const n = nodeOf(s);
        if (node) n.parent = node;
        node = n;
      }
      if (!node) throw new InvalidArgumentError("chain", "is empty");
      return node;
    }
    case "group":
      return { kind: "group", id: sig.options.group_id as string, members: tasksOf(sig).map(nodeOf) };
    case "chord": {
      // The header is the parent of the body's first task (a chain body keeps its own links).
      const body = nodeOf(bodyOf(sig));
      let first = body;
      while (first.parent) first = first.parent;
      first.parent = nodeOf(headerOf(sig));
      return body;
    }
    default:
      return { kind: "task", id: sig.options.task_id as string };
  }
}

/** A chain's steps or a group's members. */
export function tasksOf(sig: SignatureData): SignatureData[] {
  return ((sig.kwargs as { tasks?: SignatureData[] }).tasks ?? []);
}

/** A chord's header (a group). */
export function headerOf(sig: SignatureData): SignatureData {
  return (sig.kwargs as { header: SignatureData }).header;
}

/** A chord's body. */
export function bodyOf(sig: SignatureData): SignatureData {
  return (sig.kwargs as { body: SignatureData }).body;
}

/** The chord `header | body`, as Celery builds it from a group followed by a step. */
export function chordData(header: SignatureData, body: SignatureData): SignatureData {
  return { task: "celery.chord", args: [], kwargs: { header, body }, options: {}, subtask_type: "chord", immutable: false };
}

/** Flattens nested chains and turns "a group followed by a step" into a chord (as Celery does). */
export function normalizeChain(steps: SignatureData[]): SignatureData[] {
  const flat: SignatureData[] = [];
  for (const s of steps) {
    if (s.subtask_type === "chain") flat.push(...normalizeChain(tasksOf(s)));
    else flat.push(s);
  }
  const out: SignatureData[] = [];
  for (let i = 0; i < flat.length; i++) {
    const s = flat[i]!;
    const next = flat[i + 1];
    if (s.subtask_type === "group" && next) {
      out.push(chordData(s, next));
      i++;
    } else {
      out.push(s);
    }
  }
  return out;
}

/** The task ids under a handle, earlier chain steps included: what a waiter on it waits for. */
export function leafIds(node: ResultNode): string[] {
  const own = node.kind === "task" ? [node.id] : node.members.flatMap(leafIds);
  return node.parent ? [...leafIds(node.parent), ...own] : own;
}

/** Where a canvas's result notices go: the first `reply_to` among its tasks (all share one). */
export function replyToOf(sig: SignatureData): string | undefined {
  switch (sig.subtask_type) {
    case "chain":
    case "group":
      for (const s of tasksOf(sig)) {
        const r = replyToOf(s);
        if (r) return r;
      }
      return undefined;
    case "chord":
      return replyToOf(bodyOf(sig)) ?? replyToOf(headerOf(sig));
    default:
      return sig.options.reply_to as string | undefined;
  }
}

/** An errback, and the id of the handle it was attached to (the id it is called with). */
export interface PendingErrback {
  id: string;
  errback: SignatureData;
}

/**
 * The errbacks a signature fires when it fails before any of it ran (a chord body whose header
 * failed): as if its first task failed. A task's own; a chain's own (once) and its first step's; a
 * group's own (once) and every member's; a chord's own and its header's and body's.
 */
export function errbacksOf(sig: SignatureData): PendingErrback[] {
  const own = ((sig.options.link_error as SignatureData[] | undefined) ?? []).map((errback) => ({ id: nodeOf(sig).id, errback }));
  switch (sig.subtask_type) {
    case "chain": {
      const first = normalizeChain(tasksOf(sig))[0];
      return first ? [...own, ...errbacksOf(first)] : own;
    }
    case "group":
      return [...own, ...tasksOf(sig).flatMap(errbacksOf)];
    case "chord":
      return [...own, ...errbacksOf(headerOf(sig)), ...errbacksOf(bodyOf(sig))];
    default:
      return own;
  }
}
