/**
 * A typed event emitter whose emit can never throw into the caller: a listener that throws is
 * reported to the `onListenerError` hook and the others still run.
 */

/** Map of event name → payload type. */
export type EventMap = Record<string, unknown>;

/** Subscribe side of an emitter. */
export interface Events<E extends EventMap> {
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): () => void;
}

/** A typed emitter. */
export class Emitter<E extends EventMap> implements Events<E> {
  #listeners = new Map<keyof E, Set<(payload: never) => void>>();
  #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  /** True if anyone listens to `event` (lets callers skip building payloads). */
  has<K extends keyof E>(event: K): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const l of set) {
      try {
        (l as (p: E[K]) => void)(payload);
      } catch (err) {
        try {
          this.#onListenerError(err);
        } catch {
          // nothing more we can do
        }
      }
    }
  }
}
