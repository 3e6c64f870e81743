/**
 * A 3-node NATS cluster loses a server under load, with `broker.replicas: 3`: nothing may be lost.
 *
 * Three `nats-server -js` processes on loopback (test/cluster-helpers.ts), two worker processes,
 * and a producer calling `delay()` at a steady rate while a server is SIGKILLed: the leader of the
 * task stream (restarted 5 s later; once more with 3-step chains, whose later steps the workers
 * publish), the leader of the delayed-task stream and that of the mover's lease bucket with
 * countdown tasks in flight, the meta leader just before a new app's first connect, and last a
 * follower that never comes back. Each case asserts that no call was rejected, no task was lost
 * and none ran twice, and prints the slowest call and how long the backlog took to drain.
 * Beat, with two replicas, loses the server leading its lease bucket: every occurrence is fired,
 * with no gap and none twice.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type ApplyOptions, type AsyncResult, Celeriac, chain, type Task } from "celeriac";
import type { Delivery } from "../../src/broker/types.ts";
import { runtimeCommand, spawnProc, spawnWorker, stopProc, waitFor } from "../helpers.ts";
import { type ClusterNode, type PrivateNatsCluster, privateNatsCluster } from "../cluster-helpers.ts";
import { cluster, TASKS } from "../e2e/e2e-helpers.ts";

/** Sends `total` tasks at `perSecond`, without waiting for one before sending the next. */
function produce(
  send: (i: number) => Promise<AsyncResult<unknown>>,
  total: number,
  perSecond: number,
): { sent: () => number; done: Promise<{ ids: string[]; rejected: string[]; slowestMs: number }> } {
  let sent = 0;
  let slowestMs = 0;
  const ids: string[] = [];
  const rejected: string[] = [];
  const calls: Promise<void>[] = [];
  const done = (async () => {
    const t0 = Date.now();
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * perSecond) + 1);
      while (sent < due) {
        const began = Date.now();
        calls.push(
          send(sent++).then((r) => void ids.push(r.id), (err: Error) => void rejected.push(`${err.name}: ${err.message}`))
            .finally(() => void (slowestMs = Math.max(slowestMs, Date.now() - began))),
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(calls);
    return { ids, rejected, slowestMs };
  })();
  return { sent: () => sent, done };
}

describe("faults: a 3-node NATS cluster loses a server", { timeout: 600_000 }, () => {
  let nats: PrivateNatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  before(async () => {
    nats = await privateNatsCluster(3);
    nc = await connect({ servers: nats.nodes.map((n) => n.url.slice("nats://".length)) });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  async function leaderOf(stream: string): Promise<ClusterNode> {
    const name = await waitFor(async () => (await jsm.streams.info(stream)).cluster?.leader, {
      timeoutMs: 30_000,
      what: `a leader for ${stream}`,
    });
    return nats.node(name);
  }

  /** What the streams hold and what the workers said, when something did not run. */
  async function diagnose(streams: { tasks: string; delayed: string }, name: string, outputs: string[]): Promise<string> {
    const lines: string[] = [];
    for (const s of [streams.tasks, streams.delayed]) {
      const info = await jsm.streams.info(s).catch((e: Error) => e.message);
      lines.push(`${s}: ${typeof info === "string" ? info : JSON.stringify({ state: info.state, cluster: info.cluster })}`);
    }
    const ci = await jsm.consumers.info(streams.tasks, "q_celery").catch((e: Error) => e.message);
    lines.push(
      `q_celery: ${
        typeof ci === "string"
          ? ci
          : JSON.stringify({ pending: ci.num_pending, ackPending: ci.num_ack_pending, waiting: ci.num_waiting, cluster: ci.cluster })
      }`,
    );
    outputs.forEach((o, i) =>
      lines.push(`worker ${i + 1} said:\n${o.split("\n").filter((l) => !/ready|^\s*$/.test(l)).slice(-25).join("\n")}`)
    );
    return `[faults] ${name} diagnosis:\n${lines.join("\n")}`;
  }

  /** SIGKILL, and the same server (same store) back 5 s later, as a crashed pod comes back. */
  async function killAndRestart(node: ClusterNode): Promise<void> {
    await node.stop({ hard: true });
    await new Promise((r) => setTimeout(r, 5_000));
    await node.start();
  }

  /**
   * Runs one case: workers up, `total` tasks sent at `perSecond`, `fault` run once `faultAfter`
   * were sent; then checks every accepted task ran once and nothing was rejected.
   */
  async function scenario(label: string, opts: {
    total: number;
    perSecond: number;
    faultAfter: number;
    options?: (i: number) => ApplyOptions;
    /** Sends call `i` another way (a chain); `steps` tasks run per call. @default sendTask("counted") */
    send?: (app: Celeriac, i: number) => Promise<AsyncResult<unknown>>;
    steps?: number;
    fault: (streams: { tasks: string; delayed: string; locks: string }) => Promise<void>;
  }): Promise<void> {
    const c = cluster({ nats: nats.url });
    // The test's own app publishes with the replicas the workers use (a stream's replicas follow
    // whoever provisions it last).
    await c.app.close();
    const app = new Celeriac({
      name: c.name,
      brokerUrl: nats.url,
      resultBackend: c.env.CELERIAC_RESULT_BACKEND,
      resultKeyPrefix: c.prefix,
      broker: { replicas: 3, ackWait: 30 },
    });
    const env = { ...c.env, T_REPLICAS: "3" };
    const P = c.name.toUpperCase();
    const streams = { tasks: `${P}_TASKS`, delayed: `${P}_DELAYED`, locks: `KV_${c.name}_locks` };
    const workers = await Promise.all([1, 2].map((i) => spawnWorker(["-A", TASKS, "-c", "32", "-n", `w${i}@%h`], { env })));
    try {
      const send = opts.send ?? ((a: Celeriac, i: number) => a.sendTask("counted", [i], opts.options?.(i)));
      const p = produce((i) => send(app, i), opts.total, opts.perSecond);
      const steps = opts.steps ?? 1;
      await waitFor(() => p.sent() >= opts.faultAfter, { timeoutMs: 120_000, what: `${opts.faultAfter} tasks sent` });
      const t0 = Date.now();
      await opts.fault(streams);
      const { ids, rejected, slowestMs } = await p.done;
      const sentAll = Date.now();
      await waitFor(async () => Number(await c.redis.hlen(`${c.prefix}runs`)) >= ids.length * steps, {
        timeoutMs: 180_000,
        intervalMs: 200,
        what: `all ${ids.length * steps} accepted tasks run`,
      }).catch(() => {});
      const ranAll = Date.now();
      const drainMs = ranAll - t0;
      const runs = await c.redis.hgetall(`${c.prefix}runs`);
      // Each accepted call's (last) task ran, and as many tasks ran as the calls hold.
      const ran = ids.map((id) => Number(runs[id] ?? 0));
      const lost = Math.max(ran.filter((n) => n === 0).length, ids.length * steps - Object.keys(runs).length);
      const twice = Object.values(runs).filter((n) => Number(n) > 1).length;
      if (lost > 0) console.log(await diagnose(streams, c.name, workers.map((w) => w.output())));
      console.log(
        `[faults] ${label}: ${opts.total} calls, ${rejected.length} rejected, ${lost} lost, ${twice} ran twice; ` +
          `slowest delay() ${slowestMs} ms; all ran ${drainMs} ms after the kill, ${ranAll - sentAll} ms after the last delay() returned` +
          (rejected.length ? `; first rejection: ${rejected[0]}` : ""),
      );
      assert.equal(rejected.length, 0, `no delay() rejected (first: ${rejected[0]})`);
      assert.equal(lost, 0, "no accepted task lost");
      assert.equal(twice, 0, "no task ran twice");
    } finally {
      await Promise.all(workers.map((w) => stopProc(w)));
      await app.close();
      await c.dispose();
    }
  }

  it("the task stream's leader is SIGKILLed and restarted 5 s later", async () => {
    await scenario("stream leader killed", {
      total: 2000,
      perSecond: 100,
      faultAfter: 400,
      fault: async ({ tasks }) => {
        await killAndRestart(await leaderOf(tasks));
      },
    });
    await nats.ready();
  });

  it("the task stream's leader is SIGKILLed while workers publish chain follow-ups", async () => {
    await scenario("stream leader killed, chains", {
      total: 600,
      perSecond: 50,
      faultAfter: 150,
      steps: 3,
      // The producer publishes the first step; the workers publish the others as each one ends.
      send: (app, i) => {
        const counted = (app.tasks.get("counted") ?? app.task("counted", (n: number) => n)) as Task<[n: number], number>;
        return chain(counted.s(i), counted.s(), counted.s()).applyAsync();
      },
      fault: async ({ tasks }) => {
        await killAndRestart(await leaderOf(tasks));
      },
    });
    await nats.ready();
  });

  it("the delayed stream's leader is SIGKILLed with countdown tasks in flight", async () => {
    await scenario("delayed-stream leader killed", {
      total: 1000,
      perSecond: 100,
      faultAfter: 300,
      options: (i) => ({ countdown: 1 + (i % 4) }),
      fault: async ({ delayed }) => {
        await killAndRestart(await leaderOf(delayed));
      },
    });
    await nats.ready();
  });

  it("the mover lease bucket's leader is SIGKILLed with countdown tasks in flight", async () => {
    await scenario("mover-lease leader killed", {
      total: 1000,
      perSecond: 100,
      faultAfter: 300,
      options: (i) => ({ countdown: 1 + (i % 4) }),
      fault: async ({ locks }) => {
        await killAndRestart(await leaderOf(locks));
      },
    });
    await nats.ready();
  });

  it("beat: the leader of its lease bucket is SIGKILLed and restarted; fires go on without a gap", async () => {
    const c = cluster({ nats: nats.url });
    await c.app.close();
    const app = new Celeriac({ name: c.name, brokerUrl: nats.url, resultBackend: c.env.CELERIAC_RESULT_BACKEND, broker: { replicas: 3 } });
    const broker = await app.broker();
    await broker.ensureQueue("ticks");
    const seen: number[] = [];
    const consumer = await broker.consume("ticks", {
      onDelivery: (d: Delivery) => {
        seen.push(Number(d.header("id")!.split(":").at(-1)));
        d.ack();
        consumer.grant(1);
      },
      onExhausted: () => {},
      onReturned: (n) => consumer.grant(n),
      onError: () => {},
    });
    consumer.grant(50);
    const beats = [1, 2].map(() => {
      const [cmd, args] = runtimeCommand("node", "actors/cli.ts", [
        "beat",
        "-A",
        "./test/fixtures/beat-tasks.ts",
        "--lease-ttl",
        "2",
        "-l",
        "info",
      ]);
      return spawnProc(cmd, args, { ...c.env, T_BEAT_EVERY: "0.2", T_REPLICAS: "3" });
    });
    try {
      const said = () => beats.map((b, i) => `beat ${i + 1} said:\n${b.output().slice(-1500)}`).join("\n");
      await waitFor(() => seen.length >= 20, { what: "20 fires", timeoutMs: 60_000 }).catch((err) => {
        throw new Error(`${(err as Error).message}\n${said()}`);
      });
      const t0 = Date.now();
      await killAndRestart(await leaderOf(`KV_${c.name}_beat_lock`));
      const atRestart = seen.length;
      await waitFor(() => seen.length >= atRestart + 25, { what: "25 fires after the restart", timeoutMs: 60_000 });
      const sorted = [...seen].sort((a, b) => a - b);
      const gaps = sorted.slice(1).filter((t, i) => t - sorted[i]! !== 200).length;
      console.log(
        `[faults] beat lease leader killed: ${seen.length} fires, ${seen.length - new Set(seen).size} twice, ${gaps} gaps; ` +
          `25 more fires seen ${Date.now() - t0} ms after the kill (the server was back after 5 s)`,
      );
      assert.equal(new Set(seen).size, seen.length, "no occurrence published twice");
      assert.equal(gaps, 0, "no occurrence skipped");
    } finally {
      await consumer.stop();
      await Promise.all(beats.map((b) => stopProc(b)));
      await app.close();
      await c.dispose();
    }
    await nats.ready();
  });

  it("a producer's first connect and publish land in a meta-leader election", async () => {
    const meta = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${nats.nodes[0]!.monitorPort}/jsz`);
      return ((await r.json()) as { meta_cluster?: { leader?: string } }).meta_cluster?.leader;
    }, { what: "the meta leader" });
    const c = cluster({ nats: nats.url });
    await c.app.close();
    const app = new Celeriac({ name: c.name, brokerUrl: nats.url, resultBackend: c.env.CELERIAC_RESULT_BACKEND, broker: { replicas: 3 } });
    const node = nats.node(meta);
    try {
      await node.stop({ hard: true });
      // A new app: connecting, creating its streams and publishing all wait for the new meta leader.
      const sent = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => app.sendTask("counted", [i])));
      const rejected = sent.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason));
      console.log(`[faults] meta leader killed before the first connect: 50 delay() calls, ${rejected.length} rejected`);
      assert.deepEqual(rejected, [], "no delay() rejected");
      const info = await waitFor(() => jsm.streams.info(`${c.name.toUpperCase()}_TASKS`), { timeoutMs: 30_000, what: "stream info" });
      assert.equal(info.state.messages, 50, "every task stored");
    } finally {
      await node.start();
      await nats.ready();
      await app.close();
      await c.dispose();
    }
    await nats.ready();
  });

  it("a follower of the task stream is lost for good", async () => {
    await scenario("follower lost", {
      total: 1000,
      perSecond: 100,
      faultAfter: 300,
      options: (i) => (i % 4 === 0 ? { countdown: 2 } : {}),
      fault: async ({ tasks }) => {
        const leader = await leaderOf(tasks);
        const follower = nats.nodes.find((n) => n.name !== leader.name)!;
        await follower.stop({ hard: true });
      },
    });
  });
});
