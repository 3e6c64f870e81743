/** The abortable sleep shared by the actors. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sleep } from "../../src/actor.ts";

describe("actor sleep", () => {
  it("returns at once when the signal is already aborted", async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<string>((r) => (timer = setTimeout(() => r("still sleeping"), 5_000)));
    const won = await Promise.race([sleep(60_000, ctrl.signal).then(() => "returned"), stuck]);
    clearTimeout(timer);
    assert.equal(won, "returned");
  });

  it("returns when the signal aborts during the sleep", async () => {
    const ctrl = new AbortController();
    const done = sleep(60_000, ctrl.signal);
    ctrl.abort();
    await done;
  });
});
