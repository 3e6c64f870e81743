/**
 * The caller side of each system under test. A driver owns everything one run of one system
 * creates (streams, queues, keys) and removes it in `close()`.
 *
 * Every driver enqueues the same way: a sliding window of WINDOW publishes (adds) in flight,
 * awaiting the broker's confirmation of each; and every caller awaits every result through the
 * system's own notification path (no polling).
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { Redis } from "ioredis";
import { pack, unpack } from "msgpackr";
import { Queue, QueueEvents } from "bullmq";
import type { AsyncResult } from "celeriac";
import { benchApp } from "./celeriac-app.ts";
import { Completions, CONCURRENCY, NATS_URL, pipelined, REDIS_CONN, REDIS_URL, spawnWorker, WINDOW, type WorkerChild } from "./lib.ts";

/** What bench/run.ts measures through. */
export interface Driver {
  /**
   * Publishes `warmup` tasks untimed (stream or script setup, JIT), then `n` timed ones, with no
   * worker running; resolves with the ms of the timed part. Removes them all afterwards.
   */
  enqueueOnly(n: number, warmup: number): Promise<number>;
  /** Starts the worker process (resolve its `ready` before sending). */
  spawn(): WorkerChild;
  /** Sends `n` tasks and awaits every result; resolves with ms from first send to last result. */
  burst(n: number): Promise<number>;
  /** Sends one task and awaits its result. */
  roundTrip(): Promise<void>;
  close(): Promise<void>;
}

export const SYSTEMS = ["raw", "bullmq", "celeriac"] as const;
export type SystemName = typeof SYSTEMS[number];

/** What bench/scale.ts varies; bench/run.ts uses the defaults. */
export interface DriverOptions {
  /** Bytes of argument each task carries and returns as its result. @default 0 (none) */
  payloadBytes?: number;
  /** NATS server(s) (raw and celeriac). @default NATS_URL */
  natsUrl?: string;
  /** Stream replicas (raw and celeriac). @default 1 */
  replicas?: number;
  /**
   * Tasks in flight during a burst (raw and celeriac). @default WINDOW. Big payloads need fewer: 1,000 results of
   * 512 KiB at once are 500 MiB queued for one caller, and NATS drops a slow consumer's messages
   * (raw's caller then waits for notices that never come).
   */
  window?: number;
}

/** Opens a fresh driver for `system`; `tag` makes every name it creates unique. */
export function openDriver(system: SystemName, tag: string, opts: DriverOptions = {}): Promise<Driver> {
  if (system === "raw") return openRaw(tag, opts);
  if (system === "bullmq") return openBull(tag, opts);
  return openCeleriac(tag, opts);
}

/** The payload of each task: `n` bytes that do not compress to nothing (null for none). */
function payloadOf(n: number | undefined): Uint8Array | null {
  if (!n) return null;
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 2654435761) >>> 24;
  return p;
}

/** Deletes keys by exact name, in batches (never by a broad pattern someone else may share). */
async function delKeys(redis: Redis, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
}

/**
 * Collects a burst's result promises. Each is marked handled at once: if the burst is abandoned
 * (the worker died, a deadline passed) before they are awaited, closing the driver rejects them,
 * and that must not crash the bench as an unhandled rejection.
 */
function collect(results: Promise<unknown>[], p: Promise<unknown>): void {
  p.catch(() => {});
  results.push(p);
}

async function deleteStreams(jsm: JetStreamManager, prefix: string): Promise<void> {
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(prefix)) await jsm.streams.delete(name);
  }
}

// ---------------------------------------------------------------------------------------------
// The ceiling: raw JetStream + Redis (worker in bench/raw-worker.ts)
//
// Its connections set nats.js's `noAsyncTraces`: by default every request (so every js.publish)
// captures two stack traces up front (a context Error and its timeout's Error) in case it fails,
// which measured here cost ~40% of a publishing process's CPU (plain js.publish, 1000 in flight:
// 16–20k/s with traces, 27–36k/s without). A ceiling should be what a careful raw client gets;
// celeriac can set the same option.

async function openRaw(tag: string, opts: DriverOptions): Promise<Driver> {
  const natsUrl = opts.natsUrl ?? NATS_URL;
  const payload = payloadOf(opts.payloadBytes);
  const nc: NatsConnection = await connect({ servers: natsUrl, name: "bench raw caller", noAsyncTraces: true });
  const js: JetStreamClient = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const redis = new Redis(REDIS_URL);
  const prefix = `bench_raw_${tag}`;
  const streamPrefix = prefix.toUpperCase();
  const keyPrefix = `bench-raw-${tag}-`;
  const done = new Completions();
  const reply = `${prefix}.reply`;
  // The notice is the result record, like celeriac's: the caller needs no Redis read.
  const sub = nc.subscribe(reply, { callback: (_e, m) => done.settle((unpack(m.data) as { task_id: string }).task_id) });
  let seq = 0;
  const keys: string[] = [];

  // Same stream and consumer settings as celeriac's queue (WorkQueue, file storage, ack wait 30 s,
  // max deliver 5, max ack pending 1000). No msgID header: the ceiling pays for no dedup.
  const addStream = (name: string) =>
    jsm.streams.add({
      name,
      subjects: [`${name.toLowerCase()}.tasks`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: opts.replicas ?? 1,
    });
  const publish = (stream: string, id: string) =>
    js.publish(`${stream.toLowerCase()}.tasks`, pack(payload ? [id, reply, payload] : [id, reply]));
  const stream = `${streamPrefix}_TASKS`;
  await addStream(stream);
  await jsm.consumers.add(stream, {
    durable_name: "q",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 30_000_000_000,
    max_deliver: 5,
    max_ack_pending: 1000,
  });
  // Wrapped in an object: an async function returning the bare promise would wait for it.
  const send = async (): Promise<{ result: Promise<void> }> => {
    const id = `${++seq}`;
    keys.push(keyPrefix + id);
    const result = done.expect(id);
    await publish(stream, id);
    return { result };
  };

  return {
    async enqueueOnly(n, warmup) {
      const enq = `${streamPrefix}_ENQ`;
      await addStream(enq);
      await pipelined(warmup, WINDOW, (i) => publish(enq, `w${i}`));
      const t0 = performance.now();
      await pipelined(n, WINDOW, (i) => publish(enq, `e${i}`));
      const ms = performance.now() - t0;
      await jsm.streams.delete(enq);
      return ms;
    },
    spawn: () =>
      spawnWorker("raw-worker.ts", [
        "--stream",
        stream,
        "--durable",
        "q",
        "--keys",
        keyPrefix,
        "--nats",
        natsUrl,
        // Where a batch of CONCURRENCY would pass 4 MiB, pull by bytes (see raw-worker.ts).
        ...((opts.payloadBytes ?? 0) * CONCURRENCY > 4 * 2 ** 20 ? ["--max-bytes", String(4 * 2 ** 20)] : []),
      ]),
    async burst(n) {
      const results: Promise<unknown>[] = [];
      const t0 = performance.now();
      await pipelined(n, opts.window ?? WINDOW, async () => collect(results, (await send()).result));
      await Promise.all(results);
      return performance.now() - t0;
    },
    async roundTrip() {
      await (await send()).result;
    },
    async close() {
      sub.unsubscribe();
      await deleteStreams(jsm, streamPrefix + "_");
      await delKeys(redis, keys);
      await nc.close();
      await redis.quit();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// BullMQ (worker in bench/bullmq-worker.ts)

async function openBull(tag: string, opts: DriverOptions): Promise<Driver> {
  const name = `bench_bull_${tag}`;
  // Completion: one QueueEvents reader and a 'completed' listener that resolves by job id. It is
  // what job.waitUntilFinished() uses underneath, minus a listener per job. It reads the events
  // stream from its very start ("0-0", the queue is new), so no event is missed however early it
  // comes; the stream's cap is raised so a lagging reader cannot lose events to trimming
  // (the default ~10,000 holds fewer than the 4 events per job of one burst).
  const streams = { events: { maxLen: 1_000_000 } };
  const queue = new Queue(name, { connection: REDIS_CONN, streams });
  const events = new QueueEvents(name, { connection: REDIS_CONN, lastEventId: "0-0" });
  const done = new Completions();
  let failed: Error | null = null;
  events.on("completed", ({ jobId }) => done.settle(jobId));
  events.on("failed", ({ jobId, failedReason }) => {
    failed ??= new Error(`BullMQ job ${jobId} failed: ${failedReason}`);
    done.settle(jobId);
  });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  // BullMQ keeps job data as JSON: the payload travels as a string of the same length.
  const data = opts.payloadBytes ? { p: "x".repeat(opts.payloadBytes) } : {};
  const job = () => ({ name: "noop", data });
  // The same WINDOW of jobs in flight as the other systems, as addBulk calls of BULK jobs: on this
  // machine 10 × 100 added 20–26k jobs/s where one addBulk of 1000 at a time added 13k.
  const BULK = 100;
  const addAll = (q: Queue, n: number, added?: (ids: string[]) => void) =>
    pipelined(Math.ceil(n / BULK), WINDOW / BULK, async (c) => {
      const jobs = await q.addBulk(Array.from({ length: Math.min(BULK, n - c * BULK) }, job));
      added?.(jobs.map((j) => j.id!));
    });
  const check = () => {
    if (failed) throw failed;
  };

  return {
    async enqueueOnly(n, warmup) {
      const enq = new Queue(`${name}_enq`, { connection: REDIS_CONN, streams });
      await addAll(enq, warmup);
      const t0 = performance.now();
      await addAll(enq, n);
      const ms = performance.now() - t0;
      await enq.obliterate({ force: true });
      await enq.close();
      return ms;
    },
    spawn: () => spawnWorker("bullmq-worker.ts", ["--queue", name]),
    async burst(n) {
      const results: Promise<unknown>[] = [];
      const t0 = performance.now();
      await addAll(queue, n, (ids) => {
        for (const id of ids) collect(results, done.expect(id));
      });
      await Promise.all(results);
      const ms = performance.now() - t0;
      check();
      return ms;
    },
    async roundTrip() {
      const j = await queue.add("noop", data);
      await done.expect(j.id!);
      check();
    },
    async close() {
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// celeriac (worker in bench/celeriac-worker.ts)

async function openCeleriac(tag: string, opts: DriverOptions): Promise<Driver> {
  const name = `bench_cel_${tag}`;
  const natsUrl = opts.natsUrl ?? NATS_URL;
  const appOpts = { natsUrl, replicas: opts.replicas };
  const { app, noop, echo } = benchApp(name, appOpts);
  const payload = payloadOf(opts.payloadBytes);
  await app.connect();
  // Our own connections for cleanup: the app offers no stream deletion, and keys are deleted by id.
  const nc = await connect({ servers: natsUrl, name: "bench celeriac admin" });
  const jsm = await jetstreamManager(nc);
  const redis = new Redis(REDIS_URL);
  const ids: string[] = [];
  // Set by close(). An abandoned burst (dead worker, deadline) still has publishes in flight; one
  // that completes after close must not start a get(): celeriac accepts a get() on a closed app
  // and it then waits out its whole timeout, holding this process open.
  let closed = false;
  const send = async (): Promise<AsyncResult<unknown>> => {
    const r: AsyncResult<unknown> = payload ? await echo.delay(payload) : await noop.delay();
    ids.push(r.id);
    if (closed) throw new Error("the celeriac driver was closed during a burst");
    return r;
  };

  return {
    async enqueueOnly(n, warmup) {
      // A second app on its own namespace, so the worker's stream starts empty.
      const enq = benchApp(`${name}_enq`, appOpts);
      await enq.noop.delay(); // provisions the stream, as the raw driver's setup does
      await pipelined(warmup, WINDOW, () => enq.noop.delay());
      const t0 = performance.now();
      await pipelined(n, WINDOW, () => enq.noop.delay());
      const ms = performance.now() - t0;
      await enq.app.close();
      await deleteStreams(jsm, `${name}_enq_`.toUpperCase());
      return ms;
    },
    spawn: () => spawnWorker("celeriac-worker.ts", ["--name", name, "--nats", natsUrl, "--replicas", String(opts.replicas ?? 1)]),
    async burst(n) {
      const results: Promise<unknown>[] = [];
      const t0 = performance.now();
      await pipelined(n, opts.window ?? WINDOW, async () => collect(results, (await send()).get({ timeout: 300 })));
      await Promise.all(results);
      return performance.now() - t0;
    },
    async roundTrip() {
      await (await send()).get({ timeout: 30 });
    },
    async close() {
      closed = true;
      await app.close();
      await deleteStreams(jsm, `${name}_`.toUpperCase());
      await deleteStreams(jsm, `KV_${name}_`); // KV buckets, if the worker made any
      await delKeys(redis, ids.map((id) => `${name}-task-meta-${id}`));
      await nc.close();
      await redis.quit();
    },
  };
}
