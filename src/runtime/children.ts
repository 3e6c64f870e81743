/**
 * Child processes and threads for the worker's `process` and `threads` pools, on Node, Deno and
 * Bun alike: all three implement `node:child_process.fork` and `node:worker_threads`. Frames are
 * bytes (the project's codec encodes them); the channel only carries them.
 *
 * What differs: Node cannot load `.ts` by itself. A child of a worker run from source (or given
 * a `.ts` app module) gets tsx the way its parent did: `--import tsx` for a process; a thread
 * starts from a one-line evaluated script that registers tsx's hooks before importing the entry
 * (a worker_threads Worker given a `.ts` file fails before any hook could run, FACTS.md).
 */
import { fork } from "node:child_process";
import process from "node:process";
import { parentPort, threadId, Worker as Thread, workerData } from "node:worker_threads";
import { isDeno } from "./mod.ts";

/** Marks a pool child: an environment variable for a process, `workerData` for a thread. */
const CHILD_ENV = "CELERIAC_POOL_CHILD";
const THREAD_MARK = { celeriacPoolChild: true } as const;

/**
 * True inside a child of a `process` or `threads` pool. A module that defines the app and also
 * starts its worker guards the start with it, since children import that module too.
 */
export function isPoolChild(): boolean {
  if (parentPort) return (workerData as { celeriacPoolChild?: boolean } | null)?.celeriacPoolChild === true;
  return process.env[CHILD_ENV] === "process" && typeof process.send === "function";
}

/** True under Bun. */
const isBun = "Bun" in globalThis;

/** The parent's side of one child. */
export interface ChildChannel {
  /** The child's pid (process) or thread id (thread). */
  readonly id: number;
  send(frame: Uint8Array): void;
  /** Stops the child now, whatever it is running (SIGKILL, or terminating the thread). */
  kill(): void;
}

/** What the parent hears from a child. */
export interface ChildListener {
  message(frame: Uint8Array): void;
  /** The child is gone; `why` says how (exit code, signal, error). Called once. */
  exit(why: string): void;
}

/** How to start a child. */
export interface SpawnOptions {
  /** The child's entry module. */
  entry: URL;
  /** Another module the child will import (the app); a `.ts` one needs tsx on Node too. */
  loads?: string;
}

/** Whether a child on this runtime needs tsx to load these modules. */
function needsTsx(o: SpawnOptions): boolean {
  if (isDeno || isBun) return false;
  return [o.entry.href, o.loads ?? ""].some((u) => /\.[mc]?ts$/.test(u));
}

/** Forks a child process of the same runtime running `entry`. */
export function spawnProcess(o: SpawnOptions, listener: ChildListener): ChildChannel {
  const execArgv = needsTsx(o) ? ["--import", import.meta.resolve("tsx")] : [];
  const child = fork(o.entry, [], {
    // Structured clone: Uint8Array frames cross as bytes, not as JSON arrays of numbers.
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, [CHILD_ENV]: "process" },
    ...(isDeno ? {} : { execArgv }),
  });
  let gone = false;
  const exit = (why: string) => {
    if (gone) return;
    gone = true;
    listener.exit(why);
  };
  child.on("message", (m) => listener.message(m as Uint8Array));
  child.on("exit", (code, signal) => exit(signal ? `killed by ${signal}` : `exited with code ${code}`));
  child.on("error", (err) => exit(`failed: ${err.message}`));
  return {
    id: child.pid ?? -1,
    send: (frame) => {
      if (!gone && child.connected) child.send(frame);
    },
    kill: () => {
      if (!gone) child.kill("SIGKILL");
    },
  };
}

/** Starts a thread running `entry`. */
export function spawnThread(o: SpawnOptions, listener: ChildListener): ChildChannel {
  let thread: Thread;
  if (needsTsx(o)) {
    const api = JSON.stringify(import.meta.resolve("tsx/esm/api"));
    const code = `import(${api}).then((m) => { m.register(); return import(${JSON.stringify(o.entry.href)}); })`;
    thread = new Thread(code, { eval: true, workerData: THREAD_MARK });
  } else {
    thread = new Thread(o.entry, { workerData: THREAD_MARK });
  }
  let gone = false;
  const exit = (why: string) => {
    if (gone) return;
    gone = true;
    listener.exit(why);
  };
  thread.on("message", (m) => listener.message(m as Uint8Array));
  thread.on("error", (err) => exit(`failed: ${(err as Error).message}`));
  thread.on("exit", (code) => exit(`exited with code ${code}`));
  return {
    id: thread.threadId,
    send: (frame) => {
      if (!gone) thread.postMessage(frame);
    },
    kill: () => {
      if (!gone) void thread.terminate();
    },
  };
}

/** The child's side of its channel to the parent. */
export interface ParentChannel {
  /** "process" or "thread". */
  readonly kind: "process" | "thread";
  /** This child's pid or thread id. */
  readonly id: number;
  send(frame: Uint8Array): void;
  onMessage(fn: (frame: Uint8Array) => void): void;
  /** Called when the parent goes away (a process child then exits: nobody will read its results). */
  onParentGone(fn: () => void): void;
  /** Memory of this child, KiB: a process's RSS; a thread's heap and buffers (threads share the process's RSS). */
  memoryKiB(): number;
  /** Ends this child. */
  exit(code: number): void;
}

/** The channel to the parent pool, or null if this code is not running as a pool child. */
export function parentChannel(): ParentChannel | null {
  if (!isPoolChild()) return null;
  if (parentPort) {
    const port = parentPort;
    return {
      kind: "thread",
      id: threadId,
      send: (frame) => port.postMessage(frame),
      onMessage: (fn) => port.on("message", (m) => fn(m as Uint8Array)),
      onParentGone: (fn) => port.on("close", fn),
      memoryKiB: () => {
        // This isolate's heap plus the buffers it holds outside it (a thread's share of the RSS).
        const m = process.memoryUsage();
        return Math.round((m.heapUsed + m.external) / 1024);
      },
      // Inside a worker thread, process.exit ends the thread only.
      exit: (code) => process.exit(code),
    };
  }
  if (typeof process.send === "function") {
    return {
      kind: "process",
      id: process.pid,
      send: (frame) => process.send!(frame),
      onMessage: (fn) => process.on("message", (m) => fn(m as Uint8Array)),
      onParentGone: (fn) => process.on("disconnect", fn),
      memoryKiB: () => Math.round(process.memoryUsage().rss / 1024),
      exit: (code) => process.exit(code),
    };
  }
  return null;
}

/**
 * A sibling module's URL with this module's own extension: `.ts` when running from source, `.js`
 * from the built package (where `from` is this module's `import.meta.url`).
 */
export function siblingModule(name: string, from: string): URL {
  const ext = from.match(/\.[mc]?[jt]s$/)?.[0] ?? ".js";
  return new URL(name.replace(/\.ts$/, ext), from);
}
