/**
 * Task bodies from producers in other languages: JSON bodies (`content-type: application/json`)
 * decode to the same message as msgpack ones, what JSON cannot carry exactly is refused with a
 * reason, and keyword arguments reach a plain handler only when the task asks for them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Celeriac } from "celeriac";
import { decodeTaskMessage, encodeTaskMessage, type TaskMessage } from "../../src/protocol/message.ts";
import { parseJsonBody } from "../../src/protocol/json-body.ts";
import { MAX_DEPTH } from "../../src/protocol/guard.ts";
import { pack } from "../../src/protocol/codec.ts";
import type { TaskContext } from "../../src/context.ts";

const text = new TextEncoder();
const reader = (h: Record<string, string>) => (n: string) => h[n];
const json = (v: unknown) => text.encode(JSON.stringify(v));
const headers = (ct?: string): Record<string, string> => ({ task: "add", id: "abc", ...(ct ? { "content-type": ct } : {}) });

describe("JSON task bodies", () => {
  it("decode to the same message as the msgpack body of the same layout", () => {
    const body = [[2, "x", { deep: [true, null] }], { k: 1 }, null, { v: 1, retries: 2, reply_to: "p.reply.c", root_id: "r" }];
    const fromJson = decodeTaskMessage(reader(headers("application/json")), json(body));
    const fromMsgpack = decodeTaskMessage(reader(headers()), pack(body));
    assert.deepEqual(fromJson, fromMsgpack);
    assert.deepEqual(fromJson.args, [2, "x", { deep: [true, null] }]);
    assert.deepEqual(fromJson.kwargs, { k: 1 });
    assert.equal(fromJson.retries, 2);
    assert.equal(fromJson.replyTo, "p.reply.c");
  });

  it("read content-type parameters and case, and the explicit msgpack type", () => {
    const body = [[1], null, null, { v: 1 }];
    assert.deepEqual(decodeTaskMessage(reader(headers("Application/JSON; charset=utf-8")), json(body)).args, [1]);
    assert.deepEqual(decodeTaskMessage(reader(headers("application/x-msgpack")), pack(body)).args, [1]);
    assert.throws(() => decodeTaskMessage(reader(headers("application/json")), pack(body)), /undecodable JSON/);
  });

  it("take eta and expires as epoch ms or ISO 8601 (what Celery and JSON have for a time)", () => {
    const iso = "2030-01-02T03:04:05.678Z";
    const m = decodeTaskMessage(
      reader(headers("application/json")),
      json([[], null, null, { v: 1, eta: iso, expires: 1_900_000_000_000 }]),
    );
    assert.equal(m.eta, Date.parse(iso));
    assert.equal(m.expires, 1_900_000_000_000);
    const d = decodeTaskMessage(reader(headers()), pack([[], null, null, { v: 1, eta: new Date(iso) }]));
    assert.equal(d.eta, Date.parse(iso), "a msgpack timestamp too");
    assert.throws(
      () => decodeTaskMessage(reader(headers("application/json")), json([[], null, null, { v: 1, eta: "tomorrow" }])),
      /meta eta is not epoch ms or an ISO 8601 time/,
    );
  });

  it("refuse integers a double cannot hold, and only those", () => {
    assert.deepEqual(parseJsonBody(text.encode("[9007199254740991, -9007199254740991, 1.5e300, 12345678901234567.5]")), [
      9007199254740991,
      -9007199254740991,
      1.5e300,
      12345678901234567.5,
    ]);
    assert.throws(() => parseJsonBody(text.encode("[9007199254740993]")), /integer 9007199254740993 is beyond/);
    assert.throws(() => parseJsonBody(text.encode('{"id": -18446744073709551615}')), /integer -18446744073709551615 is beyond/);
    // Inside strings, digits and brackets are text.
    assert.deepEqual(parseJsonBody(text.encode('["99999999999999999999 [[[", "\\"]]"]')), ["99999999999999999999 [[[", '"]]']);
  });

  it("refuse nesting deeper than the msgpack limit, and malformed or non-UTF-8 text", () => {
    assert.doesNotThrow(() => parseJsonBody(text.encode("[".repeat(MAX_DEPTH) + "]".repeat(MAX_DEPTH))));
    assert.throws(() => parseJsonBody(text.encode("[".repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1))), /nested deeper than 128/);
    assert.throws(() => parseJsonBody(text.encode("[".repeat(100_000))), /nested deeper/);
    assert.throws(() => parseJsonBody(text.encode("[1,")), /undecodable JSON/);
    assert.throws(() => parseJsonBody(new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x5d])), /not UTF-8/);
  });

  it("are what a celeriac message would be: its msgpack body re-read as JSON gives the same message", () => {
    const m: TaskMessage = { id: "abc", task: "add", args: [1, "two"], kwargs: { x: [3] }, embed: null, retries: 1, replyTo: "p.reply.z" };
    const w = encodeTaskMessage(m);
    const asJson = decodeTaskMessage(
      reader({ ...w.headers, "content-type": "application/json" }),
      json([m.args, m.kwargs, null, { v: 1, retries: 1, reply_to: "p.reply.z" }]),
    );
    assert.deepEqual(asJson, decodeTaskMessage(reader(w.headers), w.body));
  });
});

describe("keyword arguments for handlers", () => {
  const app = new Celeriac({ name: "kw", brokerUrl: "memory://", resultBackend: "memory://" });
  const ctx = (kwargs: Record<string, unknown>) => ({ kwargs }) as unknown as TaskContext;

  it("kwargs: true passes them as a last object, {} when there are none", async () => {
    const greet = app.task({ name: "greet", kwargs: true }, (who: string, kw: { punct?: string }) => `hi ${who}${kw.punct ?? "."}`);
    assert.equal(await greet.call(ctx({ punct: "!" }), ["ann"]), "hi ann!");
    assert.equal(await greet.call(ctx({}), ["bob"]), "hi bob.");
    const bound = app.task(
      { name: "greetBound", bind: true, kwargs: true },
      (c, who: string, kw: Record<string, unknown>) => [c.kwargs, who, kw],
    );
    const c = ctx({ a: 1 });
    assert.deepEqual(await bound.call(c, ["x"]), [{ a: 1 }, "x", { a: 1 }]);
  });

  it("a plain task without the option refuses them (Python's TypeError), a bound one reads ctx.kwargs", () => {
    const add = app.task("addKw", (a: number, b: number) => a + b);
    assert.equal(add.call(ctx({}), [1, 2]), 3);
    assert.throws(
      () => add.call(ctx({ c: 3 }), [1, 2]),
      (e: Error) => e instanceof TypeError && /got keyword arguments \(c\) but takes none.*kwargs: true/.test(e.message),
    );
    const bound = app.task({ name: "boundKw", bind: true }, (c) => c.kwargs);
    assert.deepEqual(bound.call(ctx({ c: 3 }), []), { c: 3 });
  });

  it("the option is validated", () => {
    assert.throws(() => app.task({ name: "bad", kwargs: "yes" as never }, () => 1), /task bad: kwargs.*must be true or false/);
  });
});
