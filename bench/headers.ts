/**
 * Why the task message carries three headers: publish throughput with the header set celeriac
 * uses, against one more header (a version) and against Celery's protocol-v2 header set, on the
 * same stream in the same process. `node --import tsx bench/headers.ts [--n 20000] [--runs 5]`
 */
import { parseArgs } from "node:util";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { encodeTaskMessage } from "../src/protocol/message.ts";
import { AckedPublisher } from "../src/broker/jetstream/publisher.ts";

const { values } = parseArgs({ options: { n: { type: "string" }, runs: { type: "string" } } });
const N = Number(values.n ?? 20_000);
const RUNS = Number(values.runs ?? 5);

const nc = await connect({ servers: "127.0.0.1:4222" });
const jsm = await jetstreamManager(nc);
// celeriac's own publish path (one reply subscription, PubAck parsed directly)
const publisher = new AckedPublisher(nc);
const stream = `HDRBENCH_${Date.now()}`;
await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: RetentionPolicy.Workqueue });

const id = crypto.randomUUID();
const wire = encodeTaskMessage({ id, task: "add", args: [2, 3], kwargs: {}, embed: null, retries: 0, replyTo: "demo.reply.x" });
const celery: Record<string, string> = {
  lang: "js",
  task: "add",
  id,
  shadow: "",
  eta: "",
  expires: "",
  group: "",
  group_index: "",
  retries: "0",
  timelimit: "[null, null]",
  root_id: id,
  parent_id: "",
  argsrepr: "(2, 3)",
  kwargsrepr: "{}",
  origin: "gen1@host",
  ignore_result: "False",
};
const sets: [string, Record<string, string>][] = [
  ["celeriac: task, id (+ Nats-Msg-Id)", { task: "add", id }],
  ["+ a version header", { task: "add", id, v: "1" }],
  ["Celery v2 header set (16)", celery],
];

async function run(h: Record<string, string>, tag: string): Promise<number> {
  const t0 = performance.now();
  const window = 1000;
  for (let i = 0; i < N; i += window) {
    const ps: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(N, i + window); j++) {
      const hdrs = natsHeaders();
      for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
      hdrs.set("Nats-Msg-Id", `${tag}-${j}-${t0}`);
      ps.push(publisher.publish(`${stream}.${tag}`, wire.body, hdrs, 10_000));
    }
    await Promise.all(ps);
  }
  const rate = N / ((performance.now() - t0) / 1000);
  await jsm.streams.purge(stream);
  return rate;
}

const results = new Map<string, number[]>();
for (let r = 0; r < RUNS; r++) {
  for (const [label, h] of sets) {
    const rate = await run(h, `t${r}`);
    results.set(label, [...(results.get(label) ?? []), rate]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results.get(sets[0]![0])!);
console.log(`acked JetStream publish of a ${wire.body.length}-byte body, N=${N}, median of ${RUNS}:`);
for (const [label, h] of sets) {
  const m = median(results.get(label)!);
  const bytes = Object.entries(h).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  console.log(
    `  ${label.padEnd(38)} ${String(Object.keys(h).length + 1).padStart(2)} headers ${String(bytes + 50).padStart(4)} B  ${
      m.toFixed(0).padStart(6)
    } msg/s  ${(m / base).toFixed(2)}×`,
  );
}
publisher.close();
await jsm.streams.delete(stream);
await nc.close();
