/**
 * What one `delay()` costs its caller, publish acknowledged, no worker: CPU µs per call over
 * phases of 40,000 calls with 1,000 in flight (`npm run bench`'s window), median of 5 with the
 * min–max. A/B: run it from two checkouts one after the other, alternating, in one session.
 *   node --import tsx bench/delay-cpu.ts [--phases 5] [--n 40000]
 */
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { benchApp } from "./celeriac-app.ts";
import { median, NATS_URL, pipelined, WINDOW } from "./lib.ts";

const { values: flags } = parseArgs({ options: { phases: { type: "string", default: "5" }, n: { type: "string", default: "40000" } } });
const PHASES = Number(flags.phases);
const N = Number(flags.n);

const name = `bench_delay_${Date.now().toString(36)}`;
const { app, noop } = benchApp(name);
await pipelined(5_000, WINDOW, () => noop.delay()); // warm-up: stream, JIT
const perCall: number[] = [];
const perSec: number[] = [];
for (let i = 0; i < PHASES; i++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await pipelined(N, WINDOW, () => noop.delay());
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  perCall.push((cpu.user + cpu.system) / N);
  perSec.push(N / ms * 1000);
}
await app.close();
const nc = await connect({ servers: NATS_URL });
const jsm = await jetstreamManager(nc);
for await (const s of jsm.streams.names()) if (s.startsWith(name.toUpperCase())) await jsm.streams.delete(s);
await nc.close();
const span = (xs: number[], f: (x: number) => string) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
console.log(
  `delay(): caller CPU ${span(perCall, (x) => x.toFixed(1))} µs per call; ${span(perSec, (x) => `${(x / 1000).toFixed(1)}k`)} calls/s`,
);
