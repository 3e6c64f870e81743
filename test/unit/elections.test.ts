/**
 * Which JetStream failures a leader election explains (retried), and which it does not.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { errors } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { isElectionFailure, throughElections } from "../../src/broker/jetstream/elections.ts";
import { ProvisioningError } from "../../src/errors.ts";

const apiError = (code: number, err_code: number, description: string) => new JetStreamApiError({ code, err_code, description });

describe("leader elections", () => {
  it("a timeout, no meta leader, or a wrapped timeout is an election; stream not found and other errors are not", () => {
    assert.equal(isElectionFailure(new errors.TimeoutError()), true);
    assert.equal(isElectionFailure(apiError(503, 10008, "JetStream cluster not available")), true);
    assert.equal(isElectionFailure(new ProvisioningError("reading stream X failed", { cause: new errors.TimeoutError() })), true);
    assert.equal(isElectionFailure(apiError(404, 10059, "stream not found")), false);
    assert.equal(isElectionFailure(new ProvisioningError("stream X exists with another retention")), false);
    assert.equal(isElectionFailure(new Error("boom")), false);
  });

  it("throughElections retries an election failure until it succeeds, and gives up at once on another", async () => {
    let calls = 0;
    const v = await throughElections(
      () => {
        if (++calls < 3) return Promise.reject(new errors.TimeoutError());
        return Promise.resolve("ok");
      },
      5_000,
      () => false,
    );
    assert.equal(v, "ok");
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(
      throughElections(
        () => {
          calls++;
          return Promise.reject(apiError(404, 10059, "stream not found"));
        },
        5_000,
        () => false,
      ),
      /stream not found/,
    );
    assert.equal(calls, 1);
  });
});
