/**
 * What a JSON task body (producers in other languages) costs a worker next to msgpack: decoding
 * `decodeTaskMessage` of the same values both ways, in one process, median of 5 runs.
 * `node --import tsx bench/body-decode.ts`
 */
import { decodeTaskMessage, type HeaderReader } from "../src/protocol/message.ts";
import { pack } from "../src/protocol/codec.ts";

const small = [[2, 3], null, null, { v: 1, reply_to: "celeriac.reply.abcdef" }];
const items = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ["a", "b"], score: i * 1.5 }));
const large = [[items], null, null, { v: 1 }];

const msgpackHeaders: HeaderReader = (n) => ({ task: "add", id: "x" } as Record<string, string>)[n];
const jsonHeaders: HeaderReader = (n) => ({ task: "add", id: "x", "content-type": "application/json" } as Record<string, string>)[n];

function microseconds(header: HeaderReader, bytes: Uint8Array, n: number): number {
  for (let i = 0; i < n / 10; i++) decodeTaskMessage(header, bytes);
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) decodeTaskMessage(header, bytes);
    runs.push(((performance.now() - t) * 1000) / n);
  }
  return runs.sort((a, b) => a - b)[2]!;
}

console.log("| body | msgpack bytes | µs | JSON bytes | µs | JSON / msgpack |\n|---|---|---|---|---|---|");
for (const [label, value, n] of [["add(2, 3)", small, 200_000], ["1,000 small objects", large, 2_000]] as const) {
  const mp = pack(value);
  const js = new TextEncoder().encode(JSON.stringify(value));
  const a = microseconds(msgpackHeaders, mp, n);
  const b = microseconds(jsonHeaders, js, n);
  console.log(`| ${label} | ${mp.length} | ${a.toFixed(2)} | ${js.length} | ${b.toFixed(2)} | ${(b / a).toFixed(2)}× |`);
}
