/**
 * Signatures: a task call described as data (Celery's `task.s()`), so it can travel inside a
 * message and be applied later — by the worker, not the client, when a canvas moves on.
 *
 * The wire form is Celery's dict: `{ task, args, kwargs, options, subtask_type, immutable }`,
 * with `subtask_type` "chain", "group" or "chord" for the compound kinds (whose members sit in
 * `kwargs`). Options use Celery's snake_case names on the wire (`task_id`, `link`, `link_error`,
 * `countdown`, ...).
 */
import type { SignatureData } from "../protocol/message.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { SignatureTypes } from "../typing.ts";
import type { AsyncResult } from "../result.ts";

/** Options a signature carries (the calling options of `applyAsync`, Celery's names). */
export interface SignatureOptions {
  task_id?: string;
  queue?: string;
  countdown?: number;
  eta?: number;
  expires?: number;
  priority?: number;
  headers?: Record<string, string>;
  ignore_result?: boolean;
  /** Success callbacks. */
  link?: SignatureData[];
  /** Error callbacks. */
  link_error?: SignatureData[];
  [other: string]: unknown;
}

/** What a signature can be applied with (the app, or a worker's producer). */
export interface SignatureApplier {
  applySignature(sig: SignatureData, extra: { args?: unknown[]; options?: Record<string, unknown> }): Promise<unknown>;
}

/** Options `set()` accepts, in the public camelCase form. */
export interface SetOptions {
  queue?: string;
  countdown?: number;
  eta?: Date | number;
  expires?: number;
  priority?: number;
  taskId?: string;
  headers?: Record<string, string>;
  ignoreResult?: boolean;
}

/** Converts public option names to the wire's. */
export function wireOptions(o: SetOptions): SignatureOptions {
  const out: SignatureOptions = {};
  if (o.queue !== undefined) out.queue = o.queue;
  if (o.countdown !== undefined) out.countdown = o.countdown;
  if (o.eta !== undefined) out.eta = o.eta instanceof Date ? o.eta.getTime() : o.eta;
  if (o.expires !== undefined) out.expires = o.expires;
  if (o.priority !== undefined) out.priority = o.priority;
  if (o.taskId !== undefined) out.task_id = o.taskId;
  if (o.headers !== undefined) out.headers = o.headers;
  if (o.ignoreResult !== undefined) out.ignore_result = o.ignoreResult;
  return out;
}

function copyData(d: SignatureData): SignatureData {
  return structuredClone(d);
}

/**
 * A task call (or compound) as data. `R` is the result its handle resolves to; `In` the arguments
 * it still takes when applied (in a chain: the previous result), checked by `chain` and `chord`;
 * `H` the handle `applyAsync` gives (a GroupResult for a group).
 */
export class Signature<R = unknown, In extends unknown[] = unknown[], H = AsyncResult<R>> {
  /** Type-level only (the result and remaining arguments); never set at run time. */
  declare readonly __types?: SignatureTypes<R, In>;
  /** The data as it travels (Celery's dict form). */
  readonly data: SignatureData;
  readonly #applier: SignatureApplier;

  constructor(data: SignatureData, applier: SignatureApplier) {
    if (typeof data?.task !== "string" || data.task === "") throw new InvalidArgumentError("task", "a signature needs a task name");
    this.data = data;
    this.#applier = applier;
  }

  /** The task name (`celery.chain`, `celery.group`, `celery.chord` for compounds). */
  get task(): string {
    return this.data.task;
  }

  get args(): unknown[] {
    return this.data.args;
  }

  get options(): SignatureOptions {
    return this.data.options as SignatureOptions;
  }

  /** True for `si()` signatures: the parent's result is not appended to the args. */
  get immutable(): boolean {
    return this.data.immutable;
  }

  /** Sets calling options (queue, countdown, ...); returns this signature. */
  set(options: SetOptions): this {
    Object.assign(this.data.options, wireOptions(options));
    return this;
  }

  /**
   * Adds a success callback, called with this signature's result appended to its args (unless it
   * is immutable, `si()`). Returns this signature, so `add.s(2, 2).link(log.s()).applyAsync()`
   * sends `add` (Celery's `link` returns the callback instead; applied, that expression sent only
   * the callback).
   */
  link(callback: Signature<unknown, unknown[], unknown>): this {
    if (!(callback instanceof Signature)) {
      throw new InvalidArgumentError("callback", "is not a signature (use task.s(...) or task.si(...))");
    }
    ((this.data.options.link ??= []) as SignatureData[]).push(callback.toJSON());
    return this;
  }

  /**
   * Adds an error callback, called with the failed task's id and its error
   * (`{ type, message, traceback }`) appended to its args (unless it is immutable). Returns this
   * signature.
   */
  linkError(errback: Signature<unknown, unknown[], unknown>): this {
    if (!(errback instanceof Signature)) throw new InvalidArgumentError("errback", "is not a signature (use task.s(...) or task.si(...))");
    ((this.data.options.link_error ??= []) as SignatureData[]).push(errback.toJSON());
    return this;
  }

  /** A copy, with more args appended and options merged. */
  clone(args: unknown[] = [], options: SetOptions = {}): Signature<R, In, H> {
    const d = copyData(this.data);
    d.args = [...d.args, ...args];
    Object.assign(d.options, wireOptions(options));
    return new Signature<R, In, H>(d, this.#applier);
  }

  /** Sends it. Extra args are appended to the signature's (partial application). */
  applyAsync(args: unknown[] = [], options: SetOptions = {}): Promise<H> {
    return this.#applier.applySignature(copyData(this.data), { args, options: wireOptions(options) as Record<string, unknown> }) as Promise<
      H
    >;
  }

  /** Sends it with extra args. */
  delay(...args: unknown[]): Promise<H> {
    return this.applyAsync(args);
  }

  /** The wire form (a copy). */
  toJSON(): SignatureData {
    return copyData(this.data);
  }

  /** The applier this signature sends through (for compound constructors). */
  get applier(): SignatureApplier {
    return this.#applier;
  }
}

/** Builds the data of a plain task signature. */
export function taskSignatureData(
  task: string,
  args: unknown[],
  opts: { immutable?: boolean; kwargs?: Record<string, unknown>; options?: SignatureOptions } = {},
): SignatureData {
  if (!Array.isArray(args)) throw new InvalidArgumentError("args", "must be an array");
  return {
    task,
    args,
    kwargs: opts.kwargs ?? {},
    options: opts.options ?? {},
    subtask_type: null,
    immutable: opts.immutable ?? false,
  };
}
