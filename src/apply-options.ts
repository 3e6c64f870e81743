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
  /**
   * Priority level 0–9: a waiting task of a higher level runs before any of a lower one; equal
   * levels run in send order. Higher runs first, as with RabbitMQ (Celery on Redis and BullMQ
   * count the other way). @default the task's `priority`, else 0
   */
  priority?: number;
  /**
   * At most the task's `keyConcurrency` tasks with this key run at once across all workers
   * (BullMQ Pro's groups, Hatchet's concurrency keys); the others wait in the broker, holding no
   * worker slot. Refused for a task of this app that has no `keyConcurrency`.
   */
  concurrencyKey?: string;
  /**
   * Runs the task once per `id` within `ttl` seconds (BullMQ's name): a second send with the same
   * id in that time sends nothing and resolves with the first task's AsyncResult; after `ttl` a
   * send runs again. Kept in the result backend, so it holds for every producer of the app and
   * for longer than the broker's duplicate window, which is all a repeated `taskId` gets.
   */
  deduplication?: Deduplication;
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

/** The `deduplication` call option. */
export interface Deduplication {
  /** What makes two sends the same: any non-empty text. */
  id: string;
  /** Seconds during which a second send with this id does not run. */
  ttl: number;
}

/** A callback as `link` / `linkError` take it: a signature (`task.s()`), or its wire form. */
export type Linkable = SignatureData | { toJSON(): SignatureData };
