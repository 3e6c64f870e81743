/**
 * Type-level helpers of the public API: what can travel through the codec, how a partial
 * signature's remaining arguments are computed, and how canvas steps are checked against each
 * other. Nothing here exists at run time.
 *
 * The checks work on the *shape* of a type rather than a constraint like `A extends Wire[]`,
 * because interfaces (which users write for their payloads) have no implicit index signature and
 * would never satisfy such a constraint.
 */

/**
 * Leaf values the codec carries as they are (msgpack; Map and Set are checked by their contents).
 * A class instance with methods is not sendable: it would arrive as a plain object.
 */
type WireLeaf = string | number | boolean | bigint | null | undefined | void | Date | Uint8Array;

/**
 * `T` with every part the codec cannot carry replaced by `never`: functions and symbols. A type
 * equal to its `Sendable` is safe to send; `unknown` and `any` stay as they are (unchecked).
 */
export type Sendable<T> = unknown extends T ? T
  : T extends WireLeaf ? T
  : T extends symbol ? never
  : T extends (...args: never[]) => unknown ? never
  : T extends ReadonlyMap<infer K, infer V> ? ReadonlyMap<Sendable<K>, Sendable<V>>
  : T extends ReadonlySet<infer V> ? ReadonlySet<Sendable<V>>
  : T extends readonly unknown[] ? { [K in keyof T]: Sendable<T[K]> }
  : T extends object ? { [K in keyof T]: K extends symbol ? never : Sendable<T[K]> }
  : T;

/** True when every part of `T` can be sent (no function, no symbol). */
export type IsSendable<T> = [T] extends [Sendable<T>] ? true : false;

/**
 * What a handler must also be for `app.task` to accept it: nothing more when its arguments and
 * result can travel; otherwise an impossible property whose name says why, so the compile error
 * points at the handler.
 */
export type SendableHandler<A extends unknown[], R> = IsSendable<A> extends false
  ? { "celeriac: a task's arguments must be serialisable (no functions or symbols)": never }
  : IsSendable<Awaited<R>> extends false ? { "celeriac: a task's result must be serialisable (no functions or symbols)": never }
  : unknown;

/** Builds a tuple of `N` elements (a counter for {@link Drop}). */
type Counter<N extends number, Acc extends unknown[] = []> = Acc["length"] extends N ? Acc : Counter<N, [...Acc, unknown]>;

/** `A` without its first `N` elements. An array that is not a tuple stays as it is. */
export type Drop<A extends unknown[], N extends number, C extends unknown[] = Counter<N>> = C extends [unknown, ...infer CR]
  ? A extends [unknown?, ...infer AR] ? Drop<AR, N, CR> : A
  : A;

/** The argument list of `task.map(items)`'s item: a task of exactly one (required) argument. */
export type MapItem<A extends unknown[]> = A extends [infer X] ? X : A extends [(infer X)?] ? X : never;

/**
 * Phantom types carried by a signature: `R` its result, `In` the arguments it still takes (a
 * parent's result in a chain, a chord header's results). Immutable signatures (`si`) take `unknown[]`: anything.
 */
export interface SignatureTypes<R, In extends unknown[]> {
  readonly result: R;
  readonly takes: In;
}

/** Anything that carries signature types (every `Signature`). */
export interface Typed<R = unknown, In extends unknown[] = unknown[]> {
  /** Type-level only; never set. */
  readonly __types?: SignatureTypes<R, In>;
}

/** The result type of a signature. */
export type ResultOf<S> = S extends Typed<infer R, infer _In> ? R : unknown;
/** The arguments a signature still takes. */
export type TakesOf<S> = S extends Typed<infer _R, infer In> ? In : unknown[];

/** True when a step taking `In` can be called with the previous step's result `P` appended. */
export type Accepts<In extends unknown[], P> = [P] extends In ? true : false;

/** The error a mis-linked canvas step becomes (its name says what is wrong). */
export interface CannotTake<P> {
  "celeriac: this step cannot take the previous result as its last argument": P;
}

declare const START: unique symbol;

/**
 * The steps of a chain as they must be: each step after the first must accept the previous one's
 * result. A step that does not becomes {@link CannotTake}, so the error points at it.
 */
export type ChainSteps<S extends readonly unknown[], P = typeof START> = S extends readonly [infer H, ...infer T]
  ? [[P] extends [typeof START] ? H : Accepts<TakesOf<H>, P> extends true ? H : CannotTake<P>, ...ChainSteps<T, ResultOf<H>>]
  : S;

/** What a chain of no steps must be given instead (it would have no result). */
export interface ChainNeedsAStep {
  "celeriac: a chain needs at least one step": never;
}

/** A chain's arguments: at least one step, each taking the previous one's result. */
export type ChainArgs<S extends readonly unknown[]> = S extends readonly [] ? [ChainNeedsAStep] : ChainSteps<S>;

/** The result of the last step of a chain. */
export type LastResult<S extends readonly unknown[]> = S extends readonly [...unknown[], infer L] ? ResultOf<L>
  : S extends readonly (infer E)[] ? ResultOf<E>
  : unknown;

/** The results of a group's members: a tuple for a tuple of steps, an array for an array. */
export type GroupResults<S extends readonly unknown[]> = { -readonly [K in keyof S]: ResultOf<S[K]> };

/** A chord's body as it must be: able to take the header's results. */
export type ChordBody<B, Results> = Accepts<TakesOf<B>, Results> extends true ? B : CannotTake<Results>;
