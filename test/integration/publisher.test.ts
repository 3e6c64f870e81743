/**
 * The acked publisher on real NATS: a publish that nats.js refuses synchronously (a payload over
 * the server's max_payload) rejects its own promise and leaves nothing
 * pending behind (no timer firing later, no unhandled rejection).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { AckedPublisher, PublishFailure } from "../../src/broker/jetstream/publisher.ts";
import { NATS_URL, uniqueName } from "../helpers.ts";

describe("AckedPublisher", () => {
  let nc: NatsConnection;
  before(async () => {
    nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, "") });
  });
  after(async () => {
    if (!nc.isClosed()) await nc.close();
  });

  it("a payload over max_payload rejects with a PublishFailure and leaves no pending entry", async () => {
    const p = new AckedPublisher(nc);
    try {
      const big = new Uint8Array(nc.info!.max_payload + 1);
      let result: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (result = p.publish(uniqueName("subj"), big, natsHeaders(), 5_000)), "no synchronous throw");
      await assert.rejects(
        result!,
        (err: unknown) => err instanceof PublishFailure && err.kind === "api" && /max_payload/.test(err.message),
      );
      assert.equal(p.pending, 0, "the refused publish is not left pending");
    } finally {
      p.close();
    }
  });
});
