/**
 * GroupResult: the results of a group's members, in the group's order (Celery's GroupResult).
 * Members may be GroupResults themselves (nested groups): `get()` then returns nested arrays.
 */
import { AsyncResult, type GetOptions, type ResultSource } from "../result.ts";
import { TaskError, TimeoutError } from "../errors.ts";
import type { ResultNode } from "./nodes.ts";

/** A result handle of either kind. */
export type ResultHandle = AsyncResult<unknown> | GroupResult<unknown>;

/** Builds handles for a canvas's result structure. */
export function handleOf(node: ResultNode, source: ResultSource): ResultHandle {
  const h: ResultHandle = node.kind === "task"
    ? new AsyncResult(node.id, source)
    : new GroupResult(node.id, node.members.map((m) => handleOf(m, source)));
  if (node.parent) h.parent = handleOf(node.parent, source);
  return h;
}

/** The results of a group: `T` is a member's result, `Out` what `get()` gives (a tuple for a tuple of steps). */
export class GroupResult<T = unknown, Out extends unknown[] = T[]> {
  /** The group id. */
  readonly id: string;
  /** The members' handles, in order. */
  readonly results: ResultHandle[];
  /** What ran before this group in a chain, if anything. */
  parent: ResultHandle | null = null;

  constructor(id: string, results: ResultHandle[]) {
    this.id = id;
    this.results = results;
  }

  /**
   * Waits for every member and returns their results in order. With `propagate` (default) the first
   * failure (in group order) is thrown as TaskError; without, failures are returned in place.
   * `timeout` bounds the whole wait.
   */
  async get(opts: GetOptions = {}): Promise<Out> {
    const deadline = opts.timeout === undefined ? null : Date.now() + opts.timeout * 1000;
    const left = () => (deadline === null ? undefined : Math.max(0, (deadline - Date.now()) / 1000));
    const settled = await Promise.allSettled(
      this.results.map((r) =>
        r instanceof GroupResult ? r.get({ timeout: left(), propagate: opts.propagate }) : r.get({ timeout: left(), propagate: false })
      ),
    );
    const out: unknown[] = [];
    for (const s of settled) {
      if (s.status === "rejected") {
        if (s.reason instanceof TimeoutError) throw new TimeoutError(`group ${this.id}: ${s.reason.message}`);
        throw s.reason;
      }
      if ((opts.propagate ?? true) && s.value instanceof TaskError) throw s.value;
      out.push(s.value);
    }
    return out as Out;
  }

  /** Celery's `join`: the same as {@link get}. */
  join(opts: GetOptions = {}): Promise<Out> {
    return this.get(opts);
  }

  /** How many members (counting a nested group as one) succeeded. */
  async completedCount(): Promise<number> {
    const ok = await Promise.all(this.results.map((r) => r.successful()));
    return ok.filter(Boolean).length;
  }

  /** True when every member is ready. */
  async ready(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.ready()))).every(Boolean);
  }

  /** True when every member succeeded. */
  async successful(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.successful()))).every(Boolean);
  }

  /** True when any member failed. */
  async failed(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.failed()))).some(Boolean);
  }

  /** True while any member is not ready. */
  async waiting(): Promise<boolean> {
    return !(await this.ready());
  }

  /** Removes the members' results. */
  async forget(): Promise<void> {
    await Promise.all(this.results.map((r) => r.forget()));
  }

  /** Serialises to the id. */
  toJSON(): string {
    return this.id;
  }
}

/** The result of an empty group: ready at once, `get()` gives []. */
export function emptyGroupResult(id: string): GroupResult<never, []> {
  return new GroupResult<never, []>(id, []);
}
