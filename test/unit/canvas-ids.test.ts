/**
 * Ids of callbacks and errbacks: derived from their parent's, so a worker that applies them again
 * (replaying follow-ups after a crash) publishes the same ids and JetStream drops the repeat.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { SignatureData } from "../../src/protocol/message.ts";
import { fixedId, leafIds, nodeOf } from "../../src/canvas/nodes.ts";

const task = (name: string, options: Record<string, unknown> = {}): SignatureData => ({
  task: name,
  args: [],
  kwargs: {},
  options,
  subtask_type: null,
  immutable: false,
});
const compound = (type: "chain" | "group", tasks: SignatureData[]): SignatureData => ({
  task: `celery.${type}`,
  args: [],
  kwargs: { tasks },
  options: {},
  subtask_type: type,
  immutable: false,
});
const chordOf = (header: SignatureData, body: SignatureData): SignatureData => ({
  task: "celery.chord",
  args: [],
  kwargs: { header, body },
  options: {},
  subtask_type: "chord",
  immutable: false,
});

describe("fixedId", () => {
  it("a plain callback gets the derived id; one it has is kept", () => {
    assert.equal(fixedId(task("a"), "p:link:0").options.task_id, "p:link:0");
    assert.equal(fixedId(task("a", { task_id: "mine" }), "p:link:0").options.task_id, "mine");
  });

  it("a compound callback gets the same ids each time it is applied, all distinct", () => {
    const cb = compound("chain", [
      task("a"),
      compound("group", [task("b"), task("c")]),
      chordOf(compound("group", [task("d")]), task("e")),
    ]);
    const once = fixedId(cb, "p:link:0");
    const again = fixedId(cb, "p:link:0");
    assert.deepEqual(again, once);
    const ids = leafIds(nodeOf(once));
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => id.startsWith("p:link:0.")), ids.join(" "));
    assert.equal(cb.kwargs.tasks && (cb.kwargs.tasks as SignatureData[])[0]!.options.task_id, undefined, "the original is not changed");
  });
});
