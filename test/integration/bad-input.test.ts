/**
 * Hostile or broken input: the message goes to the dead-letter stream with its reason, the task's
 * record says REJECTED where an id is known, the queue moves on and the worker keeps running.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { State, type Worker } from "celeriac";
import { pack } from "../../src/protocol/codec.ts";
import { Header } from "../../src/protocol/message.ts";
import { NATS_URL, type TestApp, testApp, uniqueName, waitFor } from "../helpers.ts";

describe("bad input", () => {
  let t: TestApp;
  let worker: Worker;
  let nc: NatsConnection;
  const errors: Error[] = [];

  before(async () => {
    t = testApp({ prefix: "bad" });
    t.app.task("add", (a: number, b: number) => a + b);
    worker = t.app.worker({ concurrency: 2 });
    worker.events.on("error", (e) => errors.push(e));
    await worker.start();
    nc = await connect({ servers: NATS_URL.replace("nats://", "") });
  });

  after(async () => {
    await nc.close();
    await worker.stop();
    await t.dispose();
  });

  /** Publishes raw bytes to the queue, as a broken or hostile producer would. */
  async function raw(h: Record<string, string>, body: Uint8Array) {
    const hdrs = natsHeaders();
    for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
    await jetstream(nc).publish(`${t.name}.tasks.celery`, body, { headers: hdrs });
  }

  async function deadLetterOf(id: string | null, marker: string) {
    const broker = await t.app.broker();
    return await waitFor(
      async () =>
        (await broker.listDeadLetters({ queue: "celery", limit: 1000 })).find((d) =>
          id ? d.headers[Header.ID] === id : d.headers["x-marker"] === marker
        ),
      { what: `dead letter ${id ?? marker}` },
    );
  }

  const goodBody = pack([[1, 2], null, null, { v: 1 }]);

  const cases: [string, Record<string, string>, Uint8Array, RegExp, boolean][] = [
    ["unknown task name", { task: "nope", id: "ID" }, goodBody, /unknown task "nope"/, true],
    ["undecodable body", { task: "add", id: "ID" }, new Uint8Array([0xdc, 0xff, 0xff, 1]), /undecodable msgpack/, true],
    ["body of the wrong shape", { task: "add", id: "ID" }, pack({ hello: 1 }), /not a \[args, kwargs, embed, meta\] array/, true],
    [
      "unsupported protocol version",
      { task: "add", id: "ID" },
      pack([[1], null, null, { v: 99 }]),
      /unsupported protocol version 99/,
      true,
    ],
    [
      "wrong content type",
      { task: "add", id: "ID", "content-type": "application/x-protobuf" },
      new TextEncoder().encode("[1,2]"),
      /unsupported content type/,
      true,
    ],
    [
      "undecodable JSON",
      { task: "add", id: "ID", "content-type": "application/json" },
      new TextEncoder().encode('[[1,2], null, null, {"v": 1}'),
      /undecodable JSON/,
      true,
    ],
    [
      "JSON integer beyond 2^53",
      { task: "add", id: "ID", "content-type": "application/json" },
      new TextEncoder().encode('[[9007199254740993, 1], null, null, {"v": 1}]'),
      /integer 9007199254740993 is beyond/,
      true,
    ],
    [
      "JSON of the wrong shape",
      { task: "add", id: "ID", "content-type": "application/json" },
      new TextEncoder().encode('{"args": [1, 2]}'),
      /not a \[args, kwargs, embed, meta\] array/,
      true,
    ],
    ["missing task header", { id: "ID" }, goodBody, /missing required header "task"/, true],
    ["missing id header", { task: "add" }, goodBody, /missing required header "id"/, false],
  ];

  for (const [what, h, body, reason, idKnown] of cases) {
    it(`${what} → dead letter with reason${idKnown ? ", REJECTED record" : ""}, worker keeps running`, async () => {
      const id = uniqueName("bad");
      const marker = uniqueName("m");
      const headers: Record<string, string> = { ...h, "x-marker": marker };
      if (headers.id === "ID") headers.id = id;
      await raw(headers, body);
      const dl = await deadLetterOf(idKnown ? id : null, marker);
      assert.match(dl.reason, reason);
      assert.match(dl.headers[Header.DLQ_REASON] ?? "", reason);
      assert.equal(dl.headers[Header.DLQ_QUEUE], "celery");
      assert.equal(dl.headers[Header.DLQ_WORKER], worker.hostname);
      assert.deepEqual([...dl.body], [...body], "the raw message is kept as it was");
      if (idKnown) {
        const rec = await t.app.AsyncResult(id).record();
        assert.equal(rec?.status, State.REJECTED);
        assert.match((rec?.result as { exc_message: string[] }).exc_message[0] ?? "", reason);
      }
      // removed from the queue, and the worker still serves
      const broker = await t.app.broker();
      await waitFor(async () => (await broker.queueStats("celery")).pending + (await broker.queueStats("celery")).inFlight === 0, {
        what: "queue empty",
      });
      assert.equal(await (await t.app.tasks.get("add")!.delay(2, 2)).get({ timeout: 10 }), 4);
      assert.equal(worker.state, "running");
    });
  }
});
