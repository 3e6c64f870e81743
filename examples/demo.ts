/**
 * `npm run demo`: a worker and a producer. On NATS + Redis at loopback when they answer (the
 * worker runs as its own process, like in production); when no URL is configured and they do not
 * answer, the same demo runs in this process on the memory:// broker and backend, and says so.
 */
import { spawn } from "node:child_process";
import { connect as tcp } from "node:net";
import process from "node:process";
import { TaskError } from "celeriac";

const NATS = { host: "127.0.0.1", port: 4222 };
const REDIS = { host: "127.0.0.1", port: 6379 };

function answers(addr: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcp(addr, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

const configured = Boolean(process.env.CELERIAC_BROKER_URL || process.env.CELERIAC_RESULT_BACKEND);
const real = configured || ((await answers(NATS)) && (await answers(REDIS)));
if (real) {
  console.log(
    `celeriac demo on ${process.env.CELERIAC_BROKER_URL ?? "nats://127.0.0.1:4222"} + ${
      process.env.CELERIAC_RESULT_BACKEND ?? "redis://127.0.0.1:6379/0"
    }: a worker process and this producer`,
  );
} else {
  console.log(
    "celeriac demo on memory:// (in-process): NATS and Redis do not answer on 127.0.0.1:4222 / :6379. " +
      "For the real thing start them with: nats-server -js & redis-server --save '' &",
  );
}

// The same tasks module a worker loads with `celeriac worker -A ./examples/tasks.ts`.
if (!real) {
  process.env.CELERIAC_BROKER_URL = "memory://";
  process.env.CELERIAC_RESULT_BACKEND = "memory://";
}
const { app, add, slowSquare, flaky } = await import("./tasks.ts");

let stopWorker: () => Promise<void>;
if (real) {
  const child = spawn(process.execPath, ["bin/celeriac.mjs", "worker", "-A", "./examples/tasks.ts", "-c", "8"], {
    stdio: ["ignore", "inherit", "pipe"],
  });
  let err = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      err += d;
      process.stderr.write(d);
      if (/ready\.\s*$/m.test(err)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the worker exited (${code}) before it was ready`)));
  });
  stopWorker = () =>
    new Promise((resolve) => {
      child.removeAllListeners("exit");
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
} else {
  const worker = app.worker({ concurrency: 8 });
  await worker.start();
  stopWorker = () => worker.stop();
}

const step = (s: string) => console.log(`\n— ${s}`);

step("add.delay(2, 3) → r.get()");
const r = await add.delay(2, 3);
console.log(`  ${r.id} = ${await r.get({ timeout: 10 })}`);

step("100 tasks at once");
const t0 = performance.now();
const many = await Promise.all(Array.from({ length: 100 }, (_, i) => add.delay(i, i)));
const sums = await Promise.all(many.map((x) => x.get({ timeout: 30 })));
console.log(`  sum of results = ${sums.reduce((a, b) => a + b, 0)} in ${(performance.now() - t0).toFixed(0)} ms`);

step("slowSquare.applyAsync([12, 300], { expires: 60 }) while polling its state");
const sq = await slowSquare.applyAsync([12, 300], { expires: 60 });
console.log(`  state right after sending: ${await sq.state()}`);
console.log(`  result: ${await sq.get({ timeout: 10 })}, state now: ${await sq.state()}`);

step("flaky(2): fails twice, retries, then succeeds");
console.log(`  ${await (await flaky.delay(2)).get({ timeout: 10 })}`);

step("a task nobody registered → REJECTED, kept in the dead-letter stream");
try {
  await (await app.sendTask("noSuchTask", [1])).get({ timeout: 10 });
} catch (err) {
  if (!(err instanceof TaskError)) throw err;
  console.log(`  ${err.state}: ${err.remoteMessage}`);
}
const dead = await (await app.broker()).listDeadLetters({ limit: 5 });
console.log(`  dead letters now: ${dead.length} (latest reason: ${dead.at(-1)?.reason})`);
await (await app.broker()).purgeDeadLetters();

step("done: warm shutdown of the worker");
await stopWorker();
await app.close();
