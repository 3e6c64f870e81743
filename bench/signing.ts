/**
 * What signing costs: the bytes of the signature header, CPU per sign and per check (HMAC-SHA256
 * and Ed25519, on a fresh `add.delay(2, 3)` message), and acked JetStream publish throughput with
 * and without the header, on the same stream in the same process.
 *
 *   node --import tsx bench/signing.ts [--n 20000] [--runs 5]
 *   node_modules/.bin/deno run -A bench/signing.ts          (CPU figures on Deno)
 */
import { parseArgs } from "node:util";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { nkeys } from "@nats-io/transport-node";
import { encodeTaskMessage, Header, type WireMessage } from "../src/protocol/message.ts";
import { ed25519Signer, hmacSigner, type Signer, Verifier } from "../src/security/signing.ts";
import { AckedPublisher } from "../src/broker/jetstream/publisher.ts";

const { values } = parseArgs({ options: { n: { type: "string" }, runs: { type: "string" }, "no-publish": { type: "boolean" } } });
const N = Number(values.n ?? 20_000);
const RUNS = Number(values.runs ?? 5);
const runtime = "Deno" in globalThis ? "deno" : "node";

const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
const hmacKey = new TextEncoder().encode("k".repeat(44));
const signers: [string, Signer][] = [["hs256", hmacSigner(hmacKey)], ["ed25519", ed25519Signer(seed)]];

function message(): WireMessage {
  const id = crypto.randomUUID();
  return encodeTaskMessage({
    id,
    task: "add",
    args: [2, 3],
    kwargs: {},
    embed: null,
    retries: 0,
    replyTo: "demo.reply.x",
    queue: "celery",
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeUs(n: number, f: () => void): number {
  for (let i = 0; i < Math.min(n, 500); i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t0) * 1000) / n;
}

console.log(`${runtime}: CPU per message (median of ${RUNS}), and the header it adds`);
for (const [alg, signer] of signers) {
  const verifier = new Verifier([hmacKey], [ed25519Signer(seed).keyId]);
  const m = message();
  signer.sign(m);
  const header = m.headers[Header.SIG]!;
  const n = alg === "hs256" ? 20_000 : 2_000;
  const signUs = median(Array.from({ length: RUNS }, () => timeUs(n, () => signer.sign(message()))));
  const checkUs = median(Array.from({ length: RUNS }, () => timeUs(n, () => verifier.check(m.headers, m.body))));
  console.log(
    `  ${alg.padEnd(8)} header ${Header.SIG}: ${header.length} B value (+${Header.SIG.length + header.length + 4} B on the wire)` +
      `  sign ${signUs.toFixed(1)} µs  check ${checkUs.toFixed(1)} µs`,
  );
}

if (!values["no-publish"]) {
  const nc = await connect({ servers: "127.0.0.1:4222" });
  const jsm = await jetstreamManager(nc);
  const publisher = new AckedPublisher(nc);
  const stream = `SIGBENCH_${Date.now()}`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: RetentionPolicy.Workqueue });
  const variants: [string, Signer | null][] = [["unsigned", null], ...signers];
  const rates = new Map<string, number[]>();
  for (let r = 0; r < RUNS; r++) {
    for (const [label, signer] of variants) {
      const t0 = performance.now();
      for (let i = 0; i < N; i += 1000) {
        const ps: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(N, i + 1000); j++) {
          // what Producer.publish does: encode, sign, then hand the headers to NATS
          const m = message();
          signer?.sign(m);
          const h = natsHeaders();
          for (const k in m.headers) h.set(k, m.headers[k]!);
          ps.push(publisher.publish(`${stream}.${label}`, m.body, h, 10_000));
        }
        await Promise.all(ps);
      }
      rates.set(label, [...(rates.get(label) ?? []), N / ((performance.now() - t0) / 1000)]);
      await jsm.streams.purge(stream);
    }
  }
  const base = median(rates.get("unsigned")!);
  console.log(`acked JetStream publishes (build + sign + publish), N=${N}, median of ${RUNS}:`);
  for (const [label] of variants) {
    const m = median(rates.get(label)!);
    console.log(`  ${label.padEnd(9)} ${m.toFixed(0).padStart(6)} msg/s  ${(m / base).toFixed(2)}×`);
  }
  publisher.close();
  await jsm.streams.delete(stream);
  await nc.close();
}
