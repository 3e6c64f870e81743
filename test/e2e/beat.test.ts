/**
 * Two beat processes: each occurrence is published once, and when the leader is killed the other
 * takes over within the lease TTL and fires what was missed — no gap, no duplicate.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Delivery } from "../../src/broker/types.ts";
import { type Proc, runtimeCommand, spawnProc, stopProc, waitFor } from "../helpers.ts";
import { cluster } from "./e2e-helpers.ts";

function startBeat(env: Record<string, string>): Proc {
  const [cmd, args] = runtimeCommand("node", "actors/cli.ts", [
    "beat",
    "-A",
    "./test/fixtures/beat-tasks.ts",
    "--lease-ttl",
    "1",
    "-l",
    "info",
  ]);
  return spawnProc(cmd, args, { ...env, T_BEAT_EVERY: "0.2" });
}

describe("beat processes", () => {
  it("two replicas: each fire published once; the leader killed, the follower continues without a gap", async () => {
    const c = cluster();
    const broker = await c.app.broker();
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
    const beats = [startBeat(c.env), startBeat(c.env)];
    try {
      await waitFor(() => beats.some((b) => /leading/.test(b.output())), { what: "a leader", timeoutMs: 30_000 });
      const leader = beats.find((b) => /leading/.test(b.output()))!;
      const follower = beats.find((b) => b !== leader)!;
      await waitFor(() => seen.length >= 30, { what: "30 fires", timeoutMs: 30_000 });
      leader.kill("SIGKILL");
      await leader.exited;
      const atKill = seen.length;
      await waitFor(() => /leading/.test(follower.output()), { what: "the follower to take over", timeoutMs: 15_000 });
      await waitFor(() => seen.length >= atKill + 20, { what: "20 fires after the takeover", timeoutMs: 30_000 });
      const sorted = [...seen].sort((a, b) => a - b);
      assert.equal(new Set(seen).size, seen.length, "no occurrence published twice");
      for (let i = 1; i < sorted.length; i++) {
        assert.equal(sorted[i]! - sorted[i - 1]!, 200, `gap between ${sorted[i - 1]} and ${sorted[i]}`);
      }
    } finally {
      await consumer.stop();
      await Promise.all(beats.map((b) => stopProc(b)));
      await c.dispose();
    }
  });
});
