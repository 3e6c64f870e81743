import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { autoRetryFor, backoffMs, decideRetry } from "../../src/worker/retry-policy.ts";
import { compileTaskOptions } from "../../src/task-options.ts";
import { MaxRetriesExceededError, Retry } from "../../src/errors.ts";

const app = { acksLate: true, trackStarted: false };

describe("retry policy", () => {
  it("exponential backoff is capped and jittered within [0, ceiling]", () => {
    assert.equal(backoffMs(1, 0, 600_000, false), 1000);
    assert.equal(backoffMs(1, 3, 600_000, false), 8000);
    assert.equal(backoffMs(2, 3, 600_000, false), 16000);
    assert.equal(backoffMs(1, 20, 600_000, false), 600_000);
    assert.equal(backoffMs(1, 3, 600_000, true, () => 0), 0);
    assert.equal(backoffMs(1, 3, 600_000, true, () => 0.999999), 8000);
  });

  it("autoretryFor matches classes and names, dontAutoretryFor wins", () => {
    class Flaky extends Error {
      override name = "Flaky";
    }
    const t = compileTaskOptions({ name: "t", autoretryFor: [TypeError, "Flaky"], dontAutoretryFor: ["Nope"] }, app);
    assert.ok(autoRetryFor(new TypeError("x"), t, 0));
    assert.ok(autoRetryFor(new Flaky("x"), t, 0));
    assert.equal(autoRetryFor(new RangeError("x"), t, 0), null);
    const nope = Object.assign(new TypeError("x"), { name: "Nope" });
    assert.equal(autoRetryFor(nope, t, 0), null);
    const none = compileTaskOptions({ name: "u" }, app);
    assert.equal(autoRetryFor(new TypeError("x"), none, 0), null);
  });

  it("autoretry uses backoff when asked, else the default retry delay", () => {
    const backoff = compileTaskOptions({ name: "t", autoretryFor: [Error], retryBackoff: 2, retryJitter: false }, app);
    assert.equal(autoRetryFor(new Error("x"), backoff, 2)!.countdown, 8);
    const plain = compileTaskOptions({ name: "t", autoretryFor: [Error], defaultRetryDelay: 7 }, app);
    assert.equal(autoRetryFor(new Error("x"), plain, 0)!.countdown, 7);
  });

  it("retries until maxRetries, then fails with the original error or MaxRetriesExceeded", () => {
    const t = compileTaskOptions({ name: "t", maxRetries: 2, defaultRetryDelay: 10 }, app);
    const now = 1_000_000;
    assert.deepEqual(decideRetry(new Retry({ countdown: 5 }), t, "id", 0, now), { again: true, etaMs: now + 5000 });
    assert.deepEqual(decideRetry(new Retry({}), t, "id", 1, now), { again: true, etaMs: now + 10_000 });
    const cause = new Error("boom");
    const last = decideRetry(new Retry({ exc: cause }), t, "id", 2, now);
    assert.deepEqual(last, { again: false, error: cause });
    const noExc = decideRetry(new Retry({}), t, "id", 2, now);
    assert.ok(!noExc.again && noExc.error instanceof MaxRetriesExceededError);
    const forever = compileTaskOptions({ name: "t", maxRetries: null }, app);
    assert.equal(decideRetry(new Retry({ countdown: 0 }), forever, "id", 10_000, now).again, true);
    assert.equal(decideRetry(new Retry({ countdown: 0, maxRetries: 5 }), t, "id", 3, now).again, true);
  });
});
