/**
 * `WorkerOptions.logger`: a logger the user passes receives the worker's records — its own and
 * its tasks' — with the structured fields task, id and worker when it takes them (`bind`).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, type LogFields, type Logger, type LogLevelName, type Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

interface LogEntry {
  level: string;
  msg: string;
  fields: LogFields;
}

/** A structured logger as users write one over pino or a JSON sink. */
function recordingLogger(out: LogEntry[], fields: LogFields = {}): Logger {
  const at = (level: string) => (msg: string) => void out.push({ level, msg, fields });
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (prefix) => recordingLogger(out, { ...fields, prefix }),
    enabledFor: (_level: LogLevelName) => true,
    bind: (more) => recordingLogger(out, { ...fields, ...more }),
  };
}

describe("WorkerOptions.logger", () => {
  let t: TestApp;
  let worker: Worker;
  const records: LogEntry[] = [];
  const appRecords: LogEntry[] = [];

  before(async () => {
    t = testApp({ prefix: "wl" });
    t.app.log = recordingLogger(appRecords);
    t.app.task({ name: "talk", bind: true }, (ctx, word: string) => {
      ctx.log.info(`said ${word}`);
      return word;
    });
    t.app.task("fail", () => {
      throw new Error("nope");
    });
    worker = t.app.worker({ hostname: "logs@test", logger: recordingLogger(records) });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  it("gets the task's own lines and the worker's, with task, id and worker fields", async () => {
    const ok = await t.app.sendTask("talk", ["hello"]);
    await ok.get({ timeout: 10 });
    const bad = await t.app.sendTask("fail");
    await assert.rejects(bad.get({ timeout: 10 }));
    await waitFor(() => records.some((r) => r.level === "error" && r.fields.id === bad.id), { what: "the failure record" });
    const own = records.find((r) => r.msg === "said hello");
    assert.deepEqual(own?.fields, { task: "talk", id: ok.id, worker: "logs@test" });
    const settled = await waitFor(() => records.find((r) => r.msg.includes("succeeded") && r.fields.id === ok.id));
    assert.deepEqual(settled.fields, { task: "talk", id: ok.id, worker: "logs@test" });
    const failed = records.find((r) => r.level === "error" && r.fields.id === bad.id);
    assert.equal(failed?.fields.task, "fail");
    assert.equal(appRecords.filter((r) => r.fields.id !== undefined).length, 0, "the app's logger got none of the task records");
  });

  it("refuses a logger that is not one, naming the option", () => {
    assert.throws(() => t.app.worker({ logger: { info() {} } as never }), (e) => e instanceof ConfigError && /logger/.test(e.message));
  });
});
