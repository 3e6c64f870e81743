/**
 * Messages JetStream stopped delivering (maxDeliver reached): the settler dead-letters them before
 * removing them, fails what depends on them, and never removes one whose body it could not read back.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type SettleDeps, Settler } from "../../src/worker/settle.ts";
import type { Broker, ExhaustedMessage } from "../../src/broker/types.ts";
import type { ResultBackend } from "../../src/backend/types.ts";
import type { Producer } from "../../src/producer.ts";
import type { Logger } from "../../src/log.ts";
import { encodeTaskMessage } from "../../src/protocol/message.ts";

function settler() {
  const deadLetters: { queue: string; reason: string }[] = [];
  const errors: string[] = [];
  const published: { id: string; task: string; args: unknown[] }[] = [];
  const log = { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) } as unknown as Logger;
  const broker = {
    deadLetter: (queue: string, _m: unknown, reason: string) => {
      deadLetters.push({ queue, reason });
      return Promise.resolve();
    },
    notify() {},
  } as unknown as Broker;
  const backend = {
    encode: () => new Uint8Array(1),
    storeEncoded: () => Promise.resolve("stored"),
  } as unknown as ResultBackend;
  const deps: SettleDeps = {
    broker,
    backend,
    producer: {
      build: (task: string, args: unknown[], o: { taskId?: string }) => ({ id: o.taskId, task, args }),
      publish: (m: { id: string; task: string; args: unknown[] }) => {
        published.push(m);
        return Promise.resolve();
      },
    } as unknown as Producer,
    hostname: "test@host",
    log,
    resultExtended: false,
    onSettled() {},
  };
  return { s: new Settler(deps), deadLetters, errors, published };
}

function exhausted(message: ExhaustedMessage["message"]) {
  const ex = { queue: "celery", seq: 42, deliveries: 5, message, removed: false, remove: () => Promise.resolve() };
  ex.remove = () => {
    ex.removed = true;
    return Promise.resolve();
  };
  return ex;
}

describe("settle: exhausted messages", () => {
  it("dead-letters a message it could read, then removes it", async () => {
    const { s, deadLetters } = settler();
    const ex = exhausted(encodeTaskMessage({ id: "t1", task: "add", args: [], kwargs: {}, embed: null, retries: 0, queue: "celery" }));
    await s.exhausted(ex);
    assert.equal(deadLetters.length, 1);
    assert.match(deadLetters[0]!.reason, /maxDeliver reached/);
    assert.equal(ex.removed, true);
  });

  it("runs the errbacks of a message it dead-lettered, as after any failure", async () => {
    const { s, published, errors } = settler();
    const errback = { task: "on_error", args: [], kwargs: {}, options: {}, immutable: false };
    const embed = { callbacks: null, errbacks: [errback], chain: null, chord: null };
    const ex = exhausted(encodeTaskMessage({ id: "t2", task: "add", args: [], kwargs: {}, embed, retries: 0, queue: "celery" }));
    await s.exhausted(ex);
    assert.deepEqual(errors, []);
    assert.equal(published.length, 1);
    assert.equal(published[0]!.task, "on_error");
    assert.equal(published[0]!.args[0], "t2");
    assert.equal(ex.removed, true);
  });

  it("keeps a message whose body could not be read back, and says so", async () => {
    const { s, deadLetters, errors } = settler();
    const ex = exhausted(null);
    await s.exhausted(ex);
    assert.equal(ex.removed, false, "not removed without a dead letter");
    assert.equal(deadLetters.length, 0);
    assert.match(errors.join("\n"), /message 42 of celery.*could not be read.*stays in the stream/);
  });
});
