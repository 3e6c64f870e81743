/**
 * Supervision: a long-running role (an actor) runs until it is stopped; if it crashes it is
 * restarted with exponential backoff. The supervisor reports crashes, never throws them.
 */

/** A role's body: runs until `signal` aborts (then resolves) or fails (then rejects). */
export type ActorBody = (signal: AbortSignal) => Promise<void>;

/** Waits `ms`, or less if `signal` aborts first (not at all if it has); never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  // An aborted signal fires no further "abort" event: the listener below would never run.
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Options of {@link supervise}. */
export interface SuperviseOptions {
  /** First restart delay. @default 200 */
  minBackoffMs?: number;
  /** Longest restart delay. @default 10000 */
  maxBackoffMs?: number;
  /** Called on each crash with the error and the delay before the restart. */
  onCrash?: (err: unknown, restartInMs: number) => void;
}

/** A running supervised actor. */
export interface Supervised {
  /** Stops the actor and waits for its body to return. */
  stop(): Promise<void>;
  /** Resolves when the actor has stopped for good. */
  readonly done: Promise<void>;
}

/** Runs `body` under supervision. A body that ran for a while before crashing restarts quickly again. */
export function supervise(name: string, body: ActorBody, opts: SuperviseOptions = {}): Supervised {
  const min = opts.minBackoffMs ?? 200;
  const max = opts.maxBackoffMs ?? 10_000;
  const ctrl = new AbortController();
  let wake: (() => void) | null = null;
  const done = (async () => {
    let delay = min;
    while (!ctrl.signal.aborted) {
      const began = Date.now();
      try {
        await body(ctrl.signal);
        if (ctrl.signal.aborted) return;
        throw new Error(`actor ${name} returned without being stopped`);
      } catch (err) {
        if (ctrl.signal.aborted) return;
        if (Date.now() - began > max) delay = min;
        opts.onCrash?.(err, delay);
        await new Promise<void>((r) => {
          const t = setTimeout(r, delay);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = null;
        delay = Math.min(delay * 2, max);
      }
    }
  })();
  return {
    done,
    stop: async () => {
      ctrl.abort();
      (wake as (() => void) | null)?.();
      await done;
    },
  };
}
