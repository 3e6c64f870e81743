/**
 * The ceiling's worker: raw JetStream + Redis with no framework. Per message it does the least a
 * task queue with results must do: decode, store a result (`SET key value EX 86400`), ack, and
 * send a small notice to the caller's reply subject.
 *
 * The message may carry a payload, returned as the result (bench/scale.ts's payload section).
 *
 * Usage (started by bench/run.ts): raw-worker.ts --stream S --durable D --keys PREFIX [--nats URL]
 */
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import { Redis } from "ioredis";
import { pack, unpack } from "msgpackr";
import { CONCURRENCY, NATS_URL, REDIS_URL, runWorker } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    stream: { type: "string" },
    durable: { type: "string" },
    keys: { type: "string" },
    nats: { type: "string" },
    "max-bytes": { type: "string" },
  },
});
if (!opt.stream || !opt.durable || !opt.keys) throw new Error("raw-worker needs --stream, --durable and --keys");
const { stream, durable, keys } = opt as { stream: string; durable: string; keys: string };

await runWorker("raw", async () => {
  const nc = await connect({ servers: opt.nats ?? NATS_URL, name: "bench raw worker", noAsyncTraces: true }); // see drivers.ts
  // ioredis's auto-pipelining was tried here: no throughput gain, higher p50 and ~20 MiB more RSS.
  const redis = new Redis(REDIS_URL);
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  // Buffer about as many messages as we run at once, like a worker with CONCURRENCY slots would.
  // --max-bytes (large payloads): pulls by bytes, as celeriac's puller caps each pull at 4 MiB.
  // A whole batch of large messages at once overruns nats-server's per-client buffer, and the
  // server cuts the worker off as a slow consumer. nats.js takes max_messages or max_bytes, not both.
  const messages = await consumer.consume(opt["max-bytes"] ? { max_bytes: Number(opt["max-bytes"]) } : { max_messages: CONCURRENCY });

  let running = 0;
  let slotFreed: (() => void) | null = null;
  let failures = 0;

  const handle = async (m: JsMsg) => {
    const [id, reply, payload] = unpack(m.data) as [string, string, Uint8Array | undefined];
    const record = pack({ status: "SUCCESS", result: payload ?? null, task_id: id, date_done: Date.now() });
    await redis.set(`${keys}${id}`, record, "EX", 86_400);
    m.ack();
    nc.publish(reply, record);
  };

  // The loop waits for a free slot before taking the next message, so at most CONCURRENCY run at
  // once and consume() stops pulling when its buffer is full (it only refills as we iterate).
  const loop = (async () => {
    for await (const m of messages) {
      while (running >= CONCURRENCY) await new Promise<void>((r) => (slotFreed = r));
      running++;
      handle(m).catch((err) => {
        // Not acked: JetStream redelivers it. Counted and reported so a bad run is not silent.
        if (failures++ === 0) process.stderr.write(`raw worker: ${(err as Error).message}\n`);
      }).finally(() => {
        running--;
        slotFreed?.();
        slotFreed = null;
      });
    }
  })();

  return async () => {
    await messages.close();
    await loop;
    while (running > 0) await new Promise<void>((r) => (slotFreed = r));
    await nc.drain();
    await redis.quit();
    if (failures > 0) throw new Error(`${failures} message(s) failed`);
  };
});
