/**
 * Worker memory by how the CLI runs: from the TypeScript source under tsx (a checkout), and from
 * the compiled package (`dist/`) with a JavaScript app module and with a TypeScript one (which
 * Node before 22.18 loads through tsx). For each: RSS when the worker says it is ready, and the
 * peak (sampled every 100 ms from /proc, so Linux only) while it runs `--n` tasks at `-c 100`.
 *
 *   npm run build && node --import tsx bench/rss.ts [--n 20000] [--runs 2]
 *
 * Workers run with the V8 heap settings the Kubernetes manifests deploy (BENCH_V8_FLAGS replaces
 * them; "" measures V8's defaults, under which the old space grows far past what is live).
 *
 * Variants run alternately, so that the machine's drift touches all of them alike.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { Celeriac } from "celeriac";
import { cleanup } from "../test/helpers.ts";
import { CONCURRENCY, median, NATS_URL, pipelined, REDIS_URL, ROOT, WINDOW, workerV8Flags } from "./lib.ts";

const { values } = parseArgs({ options: { n: { type: "string", default: "20000" }, runs: { type: "string", default: "2" } } });
const N = Number(values.n);
const RUNS = Number(values.runs);
const DIST = path.join(ROOT, "dist/actors/cli.js");
statSync(DIST); // throws (ENOENT) without `npm run build`

const name = `rss_${Date.now().toString(36)}`;
const dir = mkdtempSync(path.join(tmpdir(), "celeriac-rss-"));
const app = (mod: string, ts: boolean) =>
  `import { Celeriac } from ${JSON.stringify(mod)};\n` +
  `export const app = new Celeriac({ name: "${name}", resultKeyPrefix: "${name}-" });\n` +
  `app.task("add", (a${ts ? ": number" : ""}, b${ts ? ": number" : ""}) => a + b);\n`;
// Outside the repository, importing the library by path: the source from the source, dist from dist.
writeFileSync(path.join(dir, "source.ts"), app(path.join(ROOT, "src/mod.ts"), true));
writeFileSync(path.join(dir, "dist.mjs"), app(path.join(ROOT, "dist/src/mod.js"), false));
writeFileSync(path.join(dir, "dist.ts"), app(path.join(ROOT, "dist/src/mod.js"), true));

const VARIANTS: { label: string; args: string[] }[] = [
  {
    label: "source under tsx (a checkout)",
    args: ["--import", "tsx", path.join(ROOT, "actors/cli.ts"), "worker", "-A", path.join(dir, "source.ts")],
  },
  { label: "dist/, JavaScript app module", args: [DIST, "worker", "-A", path.join(dir, "dist.mjs")] },
  { label: "dist/, TypeScript app module", args: [DIST, "worker", "-A", path.join(dir, "dist.ts")] },
];

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

async function measure(args: string[]): Promise<{ ready: number; peak: number }> {
  // The V8 heap settings k8s/base/worker.yaml deploys (bench/lib.ts; BENCH_V8_FLAGS="" for V8's own).
  const child = spawn(process.execPath, [...workerV8Flags(), ...args, "-c", String(CONCURRENCY)], {
    cwd: ROOT,
    env: { ...process.env, CELERIAC_BROKER_URL: NATS_URL, CELERIAC_RESULT_BACKEND: REDIS_URL },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("close", () => r()));
  try {
    const started = Date.now();
    while (!/ready\.\s*$/m.test(out)) {
      if (child.exitCode !== null || Date.now() - started > 60_000) throw new Error(`the worker did not get ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ready = rssOf(child.pid!);
    let peak = ready;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(child.pid!))), 100);
    const producer = new Celeriac({ name, resultKeyPrefix: `${name}-`, brokerUrl: NATS_URL, resultBackend: REDIS_URL });
    try {
      await pipelined(N, WINDOW, async (i) => (await producer.sendTask("add", [i, 1])).get({ timeout: 120 }));
    } finally {
      clearInterval(sampler);
      await producer.close();
    }
    return { ready, peak };
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const results = VARIANTS.map(() => ({ ready: [] as number[], peak: [] as number[] }));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const [i, v] of VARIANTS.entries()) {
      const r = await measure(v.args);
      results[i]!.ready.push(r.ready);
      results[i]!.peak.push(r.peak);
      console.error(`run ${run + 1}: ${v.label}: ready ${MiB(r.ready)}, peak ${MiB(r.peak)}`);
    }
  }
} finally {
  await cleanup(name, `${name}-`);
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `worker RSS (median of ${RUNS}), ${N} tasks at -c ${CONCURRENCY}, node ${process.versions.node}, ${
    workerV8Flags().join(" ") || "V8's default heap limits"
  }`,
);
for (const [i, v] of VARIANTS.entries()) {
  console.log(
    `  ${v.label.padEnd(32)} ready ${MiB(median(results[i]!.ready)).padStart(8)}   peak ${MiB(median(results[i]!.peak)).padStart(8)}`,
  );
}
