import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decodeTaskMessage,
  encodeTaskMessage,
  Header,
  invalidUserHeader,
  msgIdFor,
  PROTOCOL_VERSION,
  type TaskMessage,
} from "../../src/protocol/message.ts";
import { pack } from "../../src/protocol/codec.ts";

const base: TaskMessage = { id: "abc", task: "add", args: [1, 2], kwargs: {}, embed: null, retries: 0 };
const reader = (h: Record<string, string>) => (n: string) => h[n];

describe("task message", () => {
  it("puts task, id and Nats-Msg-Id in headers and the rest in the body", () => {
    const w = encodeTaskMessage({ ...base, replyTo: "app.reply.x", eta: 123, rootId: "r" });
    assert.equal(w.headers[Header.TASK], "add");
    assert.equal(w.headers[Header.ID], "abc");
    assert.equal(w.headers[Header.MSG_ID], "abc");
    assert.equal(Object.keys(w.headers).length, 3);
    const m = decodeTaskMessage(reader(w.headers), w.body);
    assert.deepEqual(m.args, [1, 2]);
    assert.equal(m.replyTo, "app.reply.x");
    assert.equal(m.eta, 123);
    assert.equal(m.rootId, "r");
    assert.equal(m.retries, 0);
  });

  it("dedup id carries the retry count", () => {
    assert.equal(msgIdFor("abc", 0), "abc");
    assert.equal(msgIdFor("abc", 2), "abc:2");
    const w = encodeTaskMessage({ ...base, retries: 2 });
    assert.equal(w.headers[Header.MSG_ID], "abc:2");
    assert.equal(decodeTaskMessage(reader(w.headers), w.body).retries, 2);
  });

  it("carries a version and refuses others", () => {
    const body = pack([[], null, null, { v: PROTOCOL_VERSION + 1 }]);
    assert.throws(() => decodeTaskMessage(reader({ task: "add", id: "1" }), body), /unsupported protocol version 2/);
  });

  it("names what is wrong with a malformed message", () => {
    const w = encodeTaskMessage(base);
    assert.throws(() => decodeTaskMessage(reader({ task: "add" }), w.body), /missing required header "id"/);
    assert.throws(() => decodeTaskMessage(reader({ id: "1" }), w.body), /missing required header "task"/);
    assert.throws(() => decodeTaskMessage(reader({ id: "1", task: "t" }), new Uint8Array([0xc1, 0xff, 0x00])), /undecodable|not a \[args/);
    assert.throws(
      () => decodeTaskMessage(reader({ id: "1", task: "t" }), pack({ not: "an array" })),
      /not a \[args, kwargs, embed, meta\] array/,
    );
    assert.throws(() => decodeTaskMessage(reader({ id: "1", task: "t" }), pack(["x", null, null, { v: 1 }])), /args is not an array/);
    assert.throws(
      () => decodeTaskMessage(reader({ id: "1", task: "t", "content-type": "application/x-protobuf" }), w.body),
      /unsupported content type "application\/x-protobuf"/,
    );
  });

  it("refuses user headers that collide with the protocol", () => {
    assert.match(invalidUserHeader({ task: "x" }) ?? "", /reserved/);
    assert.match(invalidUserHeader({ "Nats-Expected-Stream": "x" }) ?? "", /reserved/);
    assert.match(invalidUserHeader({ "a:b": "x" }) ?? "", /cannot carry/);
    assert.equal(invalidUserHeader({ "x-tenant": "acme" }), null);
  });
});
