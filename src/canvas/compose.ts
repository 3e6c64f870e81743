/**
 * Compound signatures: chain, group, chord, and Celery's map / starmap / chunks.
 * They are data too (`subtask_type` "chain" / "group" / "chord"); applying them is in apply.ts.
 */
import type { SignatureData } from "../protocol/message.ts";
import { Signature, type SignatureApplier } from "./signature.ts";
import type { AsyncResult } from "../result.ts";
import { emptyGroupResult, type GroupResult } from "./group-result.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { ChainArgs, ChainSteps, ChordBody, GroupResults, LastResult, ResultOf } from "../typing.ts";

/** Anything that can be a canvas step. */
export type AnySignature = Signature<unknown, unknown[], unknown>;

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

/**
 * Tasks that run in parallel; the result is the list of their results, in order. `R` is a
 * member's result, `Out` the whole list (a tuple for a group of a tuple of steps).
 */
export class Group<R = unknown, Out extends unknown[] = R[]> extends Signature<Out, unknown[], GroupResult<R, Out>> {
  override applyAsync(args: unknown[] = [], options: Parameters<Signature["applyAsync"]>[1] = {}): Promise<GroupResult<R, Out>> {
    return super.applyAsync(args, options) as Promise<GroupResult<R, Out>>;
  }
  override delay(...args: unknown[]): Promise<GroupResult<R, Out>> {
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

/**
 * `chain(a.s(1), b.s(), c.s())`: the AsyncResult of the last task, with `.parent` walking back.
 * Typed: each step must take the previous step's result as its last argument, and the chain's
 * result is the last step's.
 */
export function chain<const S extends readonly AnySignature[]>(...sigs: S & ChainArgs<S>): Chain<LastResult<S>>;
/** `chain([a.s(1), b.s()])`: the same, from a list. */
export function chain<const S extends readonly AnySignature[]>(sigs: S & ChainSteps<S>): Chain<LastResult<S>>;
export function chain(...sigs: AnySignature[] | [AnySignature[]]): Chain<unknown> {
  const list = checkAll((Array.isArray(sigs[0]) ? sigs[0] : sigs) as unknown[], "chain");
  return new Chain(compound("celery.chain", "chain", { tasks: list.map((s) => s.toJSON()) }), applierOf(list, "chain"));
}

/**
 * `group([a.s(1), a.s(2)])` or `group(a.s(1), a.s(2))`: a GroupResult. An empty group is allowed.
 * Typed: `get()` gives a tuple of the members' results for a tuple of steps, an array for an array.
 */
export function group<const S extends readonly AnySignature[]>(...sigs: S): Group<ResultOf<S[number]>, GroupResults<S>>;
/** `group([a.s(1), b.s(2)])`: the same, from a list. */
export function group<const S extends readonly AnySignature[]>(sigs: S): Group<ResultOf<S[number]>, GroupResults<S>>;
export function group(...sigs: AnySignature[] | [AnySignature[]]): Group<unknown> {
  const list = checkAll((Array.isArray(sigs[0]) ? sigs[0] : sigs) as unknown[], "group");
  const data = compound("celery.group", "group", { tasks: list.map((s) => s.toJSON()) });
  return new Group(data, list[0]?.applier ?? EMPTY_APPLIER);
}

/** The results a chord header delivers to its body: a list of steps, or a group. */
export type HeaderResults<H> = H extends Group<infer _R, infer Out> ? Out
  : H extends readonly AnySignature[] ? GroupResults<H>
  : unknown[];

/**
 * `chord(header, body)`: body gets the header's results in order, exactly once. Typed: the body
 * must take the header's results as its last argument; the chord's result is the body's.
 */
export function chord<const H extends readonly AnySignature[] | Group<unknown, unknown[]>, B extends AnySignature>(
  header: H,
  body: B & ChordBody<B, HeaderResults<H>>,
): Chord<ResultOf<B>>;
export function chord(header: AnySignature[] | Group<unknown>, body: AnySignature): Chord<unknown> {
  const members = header instanceof Group
    ? (header.data.kwargs.tasks as SignatureData[])
    : checkAll(header, "chord header").map((s) => s.toJSON());
  if (!(body instanceof Signature)) throw new InvalidArgumentError("body", "is not a signature");
  const headerData = header instanceof Group ? header.toJSON() : compound("celery.group", "group", { tasks: members });
  return new Chord(compound("celery.chord", "chord", { header: headerData, body: body.toJSON() }), body.applier);
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
