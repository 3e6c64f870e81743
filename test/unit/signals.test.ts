/**
 * The signal hub: handlers in order, async ones awaited, errors logged and contained — except
 * where the caller asks for them (`emitStrict`, what `beforePublish` uses).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger, InvalidArgumentError } from "celeriac";
import { Signals } from "../../src/signals.ts";

function hub() {
  const lines: string[] = [];
  return { signals: new Signals(() => createLogger("error", { sink: (l) => lines.push(l) })), lines };
}

describe("signals", () => {
  it("emit awaits handlers in order; one that throws is logged and the next still runs", async () => {
    const { signals, lines } = hub();
    const order: string[] = [];
    signals.on("workerReady", async ({ hostname }) => {
      await new Promise((r) => setTimeout(r, 5));
      order.push(`a ${hostname}`);
    });
    signals.on("workerReady", () => {
      throw new Error("handler bug");
    });
    signals.on("workerReady", ({ hostname }) => order.push(`c ${hostname}`));
    await signals.emit("workerReady", { hostname: "w1" });
    assert.deepEqual(order, ["a w1", "c w1"]);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /workerReady signal handler failed.*handler bug/);
  });

  it("fire calls every handler synchronously; a rejected promise is logged, not thrown", async () => {
    const { signals, lines } = hub();
    const order: string[] = [];
    // deno-lint-ignore require-await -- async on purpose: its rejection is what is tested
    signals.on("workerShutdown", async () => {
      order.push("async started");
      throw new Error("later");
    });
    signals.on("workerShutdown", () => void order.push("sync"));
    signals.fire("workerShutdown", { hostname: "w" });
    assert.deepEqual(order, ["async started", "sync"]);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(lines.length, 1);
  });

  it("emitStrict throws the first error (the publish it guards does not happen)", async () => {
    const { signals } = hub();
    signals.on("workerReady", () => {
      throw new RangeError("no");
    });
    await assert.rejects(signals.emitStrict("workerReady", { hostname: "w" }), RangeError);
  });

  it("on returns the function that removes the handler; has() says whether any listens", async () => {
    const { signals } = hub();
    let calls = 0;
    const off = signals.on("workerReady", () => void calls++);
    assert.equal(signals.has("workerReady"), true);
    off();
    assert.equal(signals.has("workerReady"), false);
    await signals.emit("workerReady", { hostname: "w" });
    assert.equal(calls, 0);
  });

  it("refuses an unknown signal or a handler that is not a function, naming the argument", () => {
    const { signals } = hub();
    assert.throws(
      () => signals.on("task_failure" as never, () => {}),
      (e) => e instanceof InvalidArgumentError && /signal/.test(e.message),
    );
    assert.throws(() => signals.on("workerReady", "nope" as never), (e) => e instanceof InvalidArgumentError && /handler/.test(e.message));
  });
});
