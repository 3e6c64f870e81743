/**
 * Compound signatures: chain, group, chord, and Celery's map / starmap / chunks.
 * They are data too (`subtask_type` "chain" / "group" / "chord"); applying them is in apply.ts.
 */
import type { SignatureData } from "../protocol/message.ts";
import { Signature, type SignatureApplier } from "./signature.ts";
import type { AsyncResult } from "../result.ts";
import { emptyGroupResult, type GroupResult } from "./group-result.ts";
import { InvalidArgumentError } from "../errors.ts";

/** Anything that can be a canvas step. */
export type AnySignature = Signature<unknown>;

function compound(task: string, type: "chain" | "group" | "chord", kwargs: Record<string, unknown>): SignatureData {
  return { task, args: [], kwargs, options: {}, subtask_type: type, immutable: false };
}

function applierOf(sigs: AnySignature[], what: string): SignatureApplier {
  const first = sigs[0];
  if (!first) throw new InvalidArgumentError(what, "needs at least one signature");
  return first.applier;
}

function checkAll(sigs: unknown[], what: string): AnySignature[] {
  sigs.forEach((s, i) => {
    if (!(s instanceof Signature)) throw new InvalidArgumentError(`${what}[${i}]`, "is not a signature (use task.s(...) or task.si(...))");
  });
  return sigs as AnySignature[];
}

/** Tasks that run one after the other, each receiving the previous result. */
export class Chain<R = unknown> extends Signature<R> {
  override applyAsync(args: unknown[] = [], options: Parameters<Signature["applyAsync"]>[1] = {}): Promise<AsyncResult<R>> {
    return super.applyAsync(args, options) as Promise<AsyncResult<R>>;
  }
  override delay(...args: unknown[]): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }
}

/** Tasks that run in parallel; the result is the list of their results, in order. */
export class Group<R = unknown> extends Signature<R[]> {
  override applyAsync(args: unknown[] = [], options: Parameters<Signature["applyAsync"]>[1] = {}): Promise<GroupResult<R>> {
    return super.applyAsync(args, options) as Promise<GroupResult<R>>;
  }
  override delay(...args: unknown[]): Promise<GroupResult<R>> {
    return this.applyAsync(args);
  }
}

/** A group whose results, in order, are passed to a body task once all succeeded. */
export class Chord<R = unknown> extends Signature<R> {
  override applyAsync(args: unknown[] = [], options: Parameters<Signature["applyAsync"]>[1] = {}): Promise<AsyncResult<R>> {
    return super.applyAsync(args, options) as Promise<AsyncResult<R>>;
  }
  override delay(...args: unknown[]): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }
}

/** `chain(a.s(1), b.s(), c.s())`: the AsyncResult of the last task, with `.parent` walking back. */
export function chain<R = unknown>(...sigs: AnySignature[] | [AnySignature[]]): Chain<R> {
  const list = checkAll((Array.isArray(sigs[0]) ? sigs[0] : sigs) as unknown[], "chain");
  return new Chain<R>(compound("celery.chain", "chain", { tasks: list.map((s) => s.toJSON()) }), applierOf(list, "chain"));
}

/** `group([a.s(1), a.s(2)])` or `group(a.s(1), a.s(2))`: a GroupResult. An empty group is allowed. */
export function group<R = unknown>(...sigs: AnySignature[] | [AnySignature[]]): Group<R> {
  const list = checkAll((Array.isArray(sigs[0]) ? sigs[0] : sigs) as unknown[], "group");
  const data = compound("celery.group", "group", { tasks: list.map((s) => s.toJSON()) });
  return new Group<R>(data, list[0]?.applier ?? EMPTY_APPLIER);
}

/** `chord(header, body)`: body gets the header's results in order, exactly once. */
export function chord<R = unknown>(header: AnySignature[] | Group<unknown>, body: AnySignature): Chord<R> {
  const members = header instanceof Group ? (header.data.kwargs.tasks as SignatureData[]) : checkAll(header, "chord header").map((s) => s.toJSON());
  if (!(body instanceof Signature)) throw new InvalidArgumentError("body", "is not a signature");
  const headerData = header instanceof Group ? header.toJSON() : compound("celery.group", "group", { tasks: members });
  return new Chord<R>(compound("celery.chord", "chord", { header: headerData, body: body.toJSON() }), body.applier);
}

/** An empty group has no member to borrow an app from, and needs none: nothing is sent. */
const EMPTY_APPLIER: SignatureApplier = {
  applySignature: (sig) => Promise.resolve(emptyGroupResult((sig.options.group_id as string | undefined) ?? crypto.randomUUID())),
};

/** Celery's xmap: one message; the worker calls the task once per item, in order. */
export function mapSignature(task: SignatureData, items: unknown[], applier: SignatureApplier): Signature<unknown[]> {
  if (!Array.isArray(items)) throw new InvalidArgumentError("items", "must be an array");
  return new Signature<unknown[]>(
    { task: "celery.map", args: [], kwargs: { task, it: items }, options: {}, subtask_type: null, immutable: true },
    applier,
  );
}

/** Celery's xstarmap: one message; the worker calls the task once per argument list. */
export function starmapSignature(task: SignatureData, items: unknown[][], applier: SignatureApplier): Signature<unknown[]> {
  if (!Array.isArray(items) || !items.every(Array.isArray)) throw new InvalidArgumentError("items", "must be an array of argument arrays");
  return new Signature<unknown[]>(
    { task: "celery.starmap", args: [], kwargs: { task, it: items }, options: {}, subtask_type: null, immutable: true },
    applier,
  );
}

/** Celery's chunks: the items split into parts of `n`, each part one starmap task, as a group. */
export function chunksGroup(task: SignatureData, items: unknown[][], n: number, applier: SignatureApplier): Group<unknown[]> {
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("n", "must be an integer ≥ 1");
  if (!Array.isArray(items) || !items.every(Array.isArray)) throw new InvalidArgumentError("items", "must be an array of argument arrays");
  const parts: AnySignature[] = [];
  for (let i = 0; i < items.length; i += n) parts.push(starmapSignature(task, items.slice(i, i + n), applier));
  const g = new Group<unknown[]>(compound("celery.group", "group", { tasks: parts.map((p) => p.toJSON()) }), applier);
  return g;
}
