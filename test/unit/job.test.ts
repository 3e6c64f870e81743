/**
 * A worker's Job: its phase moves one way, so a task is settled once — by its own outcome, or as
 * REVOKED by a terminate, never both — and its span is ended once.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Job } from "../../src/worker/job.ts";
import type { Delivery } from "../../src/broker/types.ts";
import type { TaskMessage } from "../../src/protocol/message.ts";
import type { Task } from "../../src/task.ts";
import type { ProcessTrace } from "../../src/tracing.ts";

function delivery(): Delivery {
  return {
    queue: "celery",
    body: new Uint8Array(),
    header: () => undefined,
    headers: () => ({}),
    headerCount: () => 0,
    deliveryCount: 1,
    seq: 1,
    ack() {},
    nak() {},
    working() {},
    term() {},
  };
}

const message = { id: "t1", task: "add", args: [], kwargs: {}, embed: null, retries: 0 } as unknown as TaskMessage;
const task = { name: "add" } as unknown as Task;

function knownJob() {
  const job = new Job(delivery());
  job.decoded(message);
  return job.known(task);
}

describe("worker job", () => {
  it("is known once decoded and its task found", () => {
    const job = new Job(delivery());
    assert.equal(job.isKnown(), false);
    job.decoded(message);
    assert.equal(job.isKnown(), false);
    assert.equal(job.known(task).task, task);
    assert.equal(job.isKnown(), true);
  });

  it("its task cannot be known before its message", () => {
    assert.throws(() => new Job(delivery()).known(task));
  });

  it("held and started: reserved, then active", () => {
    const job = knownJob();
    job.hold();
    assert.equal(job.held, true);
    job.unhold();
    assert.equal(job.held, false);
    assert.equal(job.startedAt, null);
    job.start();
    assert.equal(job.phase, "active");
    assert.ok(job.startedAt !== null);
  });

  it("once settling, a terminate is refused", () => {
    const job = knownJob();
    job.start();
    assert.equal(job.beginSettling(), true);
    assert.equal(job.terminate(new Error("terminated")), false);
    assert.equal(job.terminated, false);
    assert.equal(job.abort.aborted, false);
    assert.equal(job.beginSettling(), false, "settled once");
  });

  it("once terminated, its own outcome is not settled, and its signal is aborted", () => {
    const job = knownJob();
    job.start();
    const reason = new Error("terminated");
    assert.equal(job.terminate(reason), true);
    assert.equal(job.terminated, true);
    assert.equal(job.abort.signal.reason, reason);
    assert.equal(job.beginSettling(), false);
    assert.equal(job.terminate(reason), false, "terminated once");
  });

  it("abandoned: nothing more is settled or terminated, and it still says it was terminated", () => {
    const job = knownJob();
    job.terminate(new Error("terminated"));
    job.abandon(new Error("shutdown"));
    assert.equal(job.abandoned, true);
    assert.equal(job.terminated, true);
    assert.equal(job.beginSettling(), false);
    const other = knownJob();
    other.abandon(new Error("shutdown"));
    assert.equal(other.terminate(new Error("terminated")), false);
    assert.equal(other.abort.aborted, true);
  });

  it("its span is taken once", () => {
    const trace = { span: {}, context: {} } as unknown as ProcessTrace;
    const job = new Job(delivery(), trace);
    assert.equal(job.trace, trace);
    assert.equal(job.takeTrace(), trace);
    assert.equal(job.takeTrace(), null);
    assert.equal(job.trace, null);
  });

  it("collects the ids of the tasks its handler sent", () => {
    const job = knownJob();
    assert.equal(job.children, null);
    job.addChildren(["a"]);
    job.addChildren(["b", "c"]);
    assert.deepEqual(job.children, ["a", "b", "c"]);
  });
});
