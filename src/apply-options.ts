/**
 * The options of one call (`applyAsync`, `sendTask`, a beat entry), apart from the producer that
 * reads them, so that option types (the app's, beat's) can name them without importing it.
 */
import type { SignatureData } from "./protocol/message.ts";

/** Options of `applyAsync` and `sendTask`. Durations in seconds. */
export interface ApplyOptions {
  /** Run no earlier than this many seconds from now. */
  countdown?: number;
  /** Run no earlier than this time (Date or epoch ms). */
  eta?: Date | number;
  /** Do not run after this: seconds from now, or a Date / epoch ms. */
  expires?: number | Date;
  /** Queue to send to; overrides the task's queue and the routes. */
  queue?: string;
  /** Accepted for Celery compatibility and carried in the message; JetStream delivers in order. */
  priority?: number;
  /** Use this id instead of a new UUID (a second send with the same id is dropped as a duplicate). */
  taskId?: string;
  /** Extra headers, readable by the task as `ctx.headers`. */
  headers?: Record<string, string>;
  /** Keyword arguments, readable by the task as `ctx.kwargs`. */
  kwargs?: Record<string, unknown>;
  /** Store no result and send no notice. */
  ignoreResult?: boolean;
  /** Signature(s) to call with the result on success (`task.s()`, or its data). */
  link?: Linkable | Linkable[];
  /** Signature(s) to call with the failed task's id and error on failure. */
  linkError?: Linkable | Linkable[];
  /** Hard and soft time limits (seconds), overriding the task's. */
  timeLimit?: number;
  softTimeLimit?: number;
  /** Explicit lineage (set by canvas and by the worker; normally taken from the running task). */
  parentId?: string;
  rootId?: string;
  groupId?: string;
  groupIndex?: number;
  /** Canvas: what runs after this task. */
  chain?: SignatureData[];
  chord?: SignatureData;
  /** Canvas: the size of the chord header this task belongs to. */
  chordSize?: number;
  /** Canvas: where result notices go, when not to this app (a follow-up sent by a worker). */
  replyTo?: string;
  /** Canvas: a worker's follow-up; workers run it only if no result exists yet (see docs/canvas.md). */
  once?: boolean;
}

/** A callback as `link` / `linkError` take it: a signature (`task.s()`), or its wire form. */
export type Linkable = SignatureData | { toJSON(): SignatureData };
