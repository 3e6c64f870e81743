/**
 * Helpers shared by the benchmark orchestrator (bench/run.ts) and its worker processes.
 *
 * Kept free of NATS, Redis, BullMQ and celeriac imports so that each worker process loads only
 * the client it measures: a worker's peak RSS should be its own system's, not the bench's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";

export const NATS_URL = "nats://127.0.0.1:4222";
export const REDIS_URL = "redis://127.0.0.1:6379/0";
export const REDIS_CONN = { host: "127.0.0.1", port: 6379, db: 0 } as const;
/** Worker slots for every system, so that none wins by running more tasks at once. */
export const CONCURRENCY = 100;
/** Publishes (or adds) kept in flight by every producer. */
export const WINDOW = 1000;

/** The repository root: children run with it as cwd so `celeriac` resolves to src/mod.ts. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

const t0 = performance.now();

/** A progress line on stderr (stdout is kept for the table or the JSON), stamped with seconds since start. */
export function progress(msg: string): void {
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * Runs `fn(0..total-1)` keeping at most `window` calls in flight (a sliding window, not batches:
 * one slow ack must not idle the other 999 slots). Rejects on the first failure.
 */
export function pipelined(total: number, window: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    let failed = false;
    const launch = () => {
      while (!failed && next < total && next - done < window) {
        const i = next++;
        fn(i).then(() => {
          done++;
          if (done === total) resolve();
          else launch();
        }, (err) => {
          failed = true;
          reject(err);
        });
      }
    };
    if (total === 0) resolve();
    else launch();
  });
}

/**
 * Completion tracking by id for the raw and BullMQ callers: `expect(id)` gives a promise that
 * `settle(id)` resolves. A notice may come before its `expect` (a fast worker can beat the publish
 * ack or BullMQ's addBulk reply), so early ones are remembered until asked for.
 */
export class Completions {
  #waiting = new Map<string, () => void>();
  #early = new Set<string>();

  expect(id: string): Promise<void> {
    if (this.#early.delete(id)) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  settle(id: string): void {
    const r = this.#waiting.get(id);
    if (!r) {
      this.#early.add(id);
      return;
    }
    this.#waiting.delete(id);
    r();
  }
}

/** Rejects with a message naming `what` if `p` has not settled within `ms`. */
export async function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Worker processes, orchestrator side

/** Every live child, so that none outlives the orchestrator whatever way it ends. */
const children = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of children) c.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      for (const c of children) c.kill("SIGKILL");
      // Re-raise with the default handler so the exit status still says "killed by signal".
      process.kill(process.pid, sig);
    });
  }
}

/** What a worker process reports of its memory, in bytes. */
export interface WorkerRss {
  /** The highest RSS sampled (every 100 ms) from start to stop. */
  peak: number;
  /** RSS when it printed READY: runtime, tsx and client libraries, before any task. */
  atReady: number;
  /** What the process's memory was made of at the sample that set the peak. */
  atPeak?: MemoryAtPeak;
}

/** A worker's memory at its RSS peak, in bytes: V8's heap spaces (used and reserved) and the rest. */
export interface MemoryAtPeak {
  rss: number;
  /** Per V8 heap space (new_space is the young generation): bytes used and bytes reserved. */
  spaces: Record<string, { used: number; size: number }>;
  /** Memory of C++ objects bound to JS (Buffers included). */
  external: number;
  arrayBuffers: number;
}

/** A worker process started by the orchestrator. */
export interface WorkerChild {
  /** The worker process id (for CPU accounting). */
  pid: number;
  /** Resolves on the child's READY line. */
  ready: Promise<void>;
  /** Rejects if the child exits before `stop()` asked it to: race long phases against it. */
  died: Promise<never>;
  /** Asks it to stop; resolves with its RSS figures once it has exited cleanly. */
  stop(): Promise<WorkerRss>;
  /** Asks it to write a V8 heap snapshot to `path` now; resolves when written. */
  snapshot(path: string): Promise<void>;
  /**
   * Starts V8's sampling heap profiler in it, the garbage young-generation GC collects included;
   * `allocStop(path)` writes the profile (a `.heapprofile`) there.
   */
  allocStart(): Promise<void>;
  allocStop(path: string): Promise<void>;
  /** SIGKILLs it (after a failure). */
  kill(): void;
}

/**
 * V8's heap settings for every system's worker alike: those k8s/base/worker.yaml deploys with
 * (`bench:memory` measured why: with V8's own limits on this 24 GiB machine a -c 100 worker's old
 * space grows to ~60 MiB of mostly garbage before a full GC). BENCH_V8_FLAGS replaces them; set it
 * to "" to measure V8's defaults.
 */
export const WORKER_V8_FLAGS = "--max-semi-space-size=2 --max-old-space-size=384";

export function workerV8Flags(): string[] {
  return (process.env.BENCH_V8_FLAGS ?? WORKER_V8_FLAGS).split(/\s+/).filter(Boolean);
}

/**
 * Spawns `node [worker V8 flags] [BENCH_WORKER_FLAGS] --import tsx bench/<file> ...args`. Its stdout speaks a tiny protocol (`READY`,
 * `RSS <peak bytes> <bytes at READY>`); its stderr goes straight to ours so its errors are seen.
 */
export function spawnWorker(file: string, args: string[]): WorkerChild {
  hookExit();
  // BENCH_WORKER_FLAGS: node flags for the worker processes only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const flags = [...workerV8Flags(), ...(process.env.BENCH_WORKER_FLAGS?.split(/\s+/).filter(Boolean) ?? [])];
  const child = spawn(process.execPath, [...flags, "--import", "tsx", `bench/${file}`, ...args], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve(code ?? String(signal));
    });
  });
  let rss: WorkerRss | null = null;
  let atPeak: MemoryAtPeak | undefined;
  const snapshots = new Map<string, () => void>();
  let stopping = false;
  const died = new Promise<never>((_, reject) => {
    void exited.then((c) => stopping || reject(new Error(`bench/${file} exited unexpectedly (${c})`)));
  });
  died.catch(() => {}); // seen only by the races that use it
  // Writing "stop" to a child that already died raises EPIPE here; its exit status says what happened.
  child.stdin!.on("error", () => {});
  let onReady!: () => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  child.once("error", (e) => onFail(e));
  void exited.then((c) => onFail(new Error(`bench/${file} exited (${c}) before READY`)));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line === "READY") onReady();
    else if (line.startsWith("RSS ")) {
      const [peak, atReady] = line.slice(4).split(" ").map(Number);
      rss = { peak: peak!, atReady: atReady!, atPeak };
    } else if (line.startsWith("HEAP ")) atPeak = JSON.parse(line.slice(5)) as MemoryAtPeak;
    else if (line.startsWith("SNAPSHOT ")) snapshots.get(line.slice(9))?.();
    else process.stderr.write(`[${file}] ${line}\n`);
  });
  return {
    pid: child.pid!,
    ready: deadline(ready, 30_000, `bench/${file} start`),
    died,
    async stop() {
      stopping = true;
      child.stdin!.end("stop\n");
      const code = await deadline(exited, 30_000, `bench/${file} stop`).catch((e) => {
        child.kill("SIGKILL");
        throw e;
      });
      if (code !== 0) throw new Error(`bench/${file} exited with ${code}`);
      if (rss === null) throw new Error(`bench/${file} exited without reporting RSS`);
      return rss;
    },
    snapshot(path) {
      const written = new Promise<void>((resolve) => snapshots.set(path, resolve));
      child.stdin!.write(`snapshot ${path}\n`);
      return deadline(Promise.race([written, died]), 120_000, `bench/${file} heap snapshot`);
    },
    allocStart() {
      const started = new Promise<void>((resolve) => snapshots.set("alloc", resolve));
      child.stdin!.write("alloc start\n");
      return deadline(Promise.race([started, died]), 30_000, `bench/${file} allocation profile start`);
    },
    allocStop(path) {
      const written = new Promise<void>((resolve) => snapshots.set(path, resolve));
      child.stdin!.write(`alloc stop ${path}\n`);
      return deadline(Promise.race([written, died]), 60_000, `bench/${file} allocation profile`);
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Worker processes, child side

/**
 * The common life of a bench worker: sample RSS every 100 ms from the start, `start()` the
 * consumer, print READY, wait for "stop" on stdin (or stdin closing, which is what happens if the
 * orchestrator dies, or SIGTERM), run the returned stop function, print `RSS <peak> <at READY>`.
 * Nothing here calls process.exit: the process ends when the stop function really released every
 * socket and timer, so a leak shows up as a worker that does not exit (and the orchestrator says so).
 */
export async function runWorker(name: string, start: () => Promise<() => Promise<void>>): Promise<void> {
  let peak = process.memoryUsage().rss;
  let atReady = 0;
  let atPeak: MemoryAtPeak | undefined;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss <= peak && atPeak) return;
    peak = Math.max(peak, m.rss);
    const spaces: MemoryAtPeak["spaces"] = {};
    for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = { used: s.space_used_size, size: s.space_size };
    atPeak = { rss: m.rss, spaces, external: m.external, arrayBuffers: m.arrayBuffers };
  };
  const sampler = setInterval(sample, 100);
  const rl = createInterface({ input: process.stdin });
  const stopRequested = new Promise<void>((resolve) => {
    rl.on("line", (l) => {
      const line = l.trim();
      if (line === "stop") resolve();
      else if (line.startsWith("snapshot ")) {
        // Taken on request (mid-burst, by bench/memory.ts): it pauses the process for seconds.
        writeHeapSnapshot(line.slice(9));
        process.stdout.write(`SNAPSHOT ${line.slice(9)}\n`);
      } else if (line === "alloc start") {
        void allocStart().then(() => process.stdout.write("SNAPSHOT alloc\n"));
      } else if (line.startsWith("alloc stop ")) {
        void allocStop(line.slice(11)).then(() => process.stdout.write(`SNAPSHOT ${line.slice(11)}\n`));
      }
    });
    rl.on("close", () => resolve());
    process.once("SIGTERM", () => resolve());
  }).then(() => {
    // stdin must not keep the event loop alive once we are asked to stop
    rl.close();
    process.stdin.destroy();
  });
  try {
    const stop = await start();
    atReady = process.memoryUsage().rss;
    process.stdout.write("READY\n");
    await stopRequested;
    sample();
    await stop();
  } catch (err) {
    process.stderr.write(`${name} worker failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    rl.close(); // also when start() failed, so that stdin does not keep us alive
    if (atPeak) process.stdout.write(`HEAP ${JSON.stringify(atPeak)}\n`);
    process.stdout.write(`RSS ${peak} ${atReady}\n`);
  }
}

/** A node of V8's sampling heap profile. */
export interface AllocNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocNode[];
}

/** Bytes allocated per task in all, and the `top` allocating functions, from a sampling heap profile over `n` tasks. */
export function allocSummary(head: AllocNode, n: number, top: number): string[] {
  const byFn = new Map<string, number>();
  let total = 0;
  const walk = (node: AllocNode) => {
    const f = node.callFrame;
    const where = f.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, "$1/") || "(native)";
    const key = `${f.functionName || "(anonymous)"} ${where}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    byFn.set(key, (byFn.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const c of node.children) walk(c);
  };
  walk(head);
  return [
    `allocated ≈ ${(total / n).toFixed(0)} bytes/task (sampled)`,
    ...[...byFn].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, b]) =>
      `${(b / n).toFixed(0).padStart(6)} B/task  ${(100 * b / total).toFixed(1).padStart(5)}%  ${k}`
    ),
  ];
}

let allocSession: Session | null = null;

async function allocStart(): Promise<void> {
  allocSession = new Session();
  allocSession.connect();
  await allocSession.post("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
}

async function allocStop(path: string): Promise<void> {
  const { profile } = await allocSession!.post("HeapProfiler.stopSampling");
  allocSession!.disconnect();
  allocSession = null;
  writeFileSync(path, JSON.stringify(profile));
}

/**
 * CPU time (user + system) a process has used, in ms, from /proc (Linux); null elsewhere or if it
 * is gone. Lets the bench show where each task's CPU goes: caller, worker, NATS, Redis.
 */
export function cpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** The pid of the first process whose command name is `comm` (e.g. nats-server), or null. */
export function pidOf(comm: string): number | null {
  try {
    for (const p of readdirSync("/proc")) {
      if (!/^\d+$/.test(p)) continue;
      try {
        if (readFileSync(`/proc/${p}/comm`, "utf8").trim() === comm) return Number(p);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return null;
}
