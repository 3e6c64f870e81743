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

/** Assigns every id a canvas needs, in place (task ids, group ids, bodies). */
export function ensureIds(sig: SignatureData): void {
  switch (sig.subtask_type) {
    case "chain":
      for (const s of tasksOf(sig)) ensureIds(s);
      return;
    case "group":
      sig.options.group_id ??= uuid();
      for (const s of tasksOf(sig)) ensureIds(s);
      return;
    case "chord":
      ensureIds(headerOf(sig));
      ensureIds(bodyOf(sig));
      return;
    default:
      sig.options.task_id ??= uuid();
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
      const body = nodeOf(bodyOf(sig));
      body.parent = nodeOf(headerOf(sig));
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
