/**
 * `celeriac result <id>`: prints a task's state and result; with --wait, waits for it first.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, numberOption, out, render } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit } from "../exit-codes.ts";
import { TimeoutError } from "../../src/mod.ts";
import { isReady, writeStderr } from "../../src/internal.ts";

export const resultCommand: Command = {
  name: "result",
  summary: "show a task's state and result",
  help: `Usage: celeriac result <task-id> [options]

Prints the result of a finished task, or its state if it has not finished.
Exit code: 0 for SUCCESS or a state that is not final yet (PENDING, STARTED, RETRY...), 1 for
FAILURE/REVOKED/REJECTED, 75 if --wait timed out.

Options:
  --wait                    wait until the task is ready
  --timeout <seconds>       give up waiting after this long
  --traceback               print the traceback of a failed task
  --json                    print the whole stored record as JSON

${GLOBAL_HELP}`,
  options: {
    wait: { type: "boolean" },
    timeout: { type: "string" },
    traceback: { type: "boolean" },
    json: { type: "boolean" },
  },
  async run({ values, positionals, flags }) {
    const id = positionals[0];
    if (!id) throw new CliError(Exit.USAGE, "result: which task? usage: celeriac result <task-id>");
    const timeout = numberOption("timeout", values.timeout);
    const app = await loadApp(flags, "result");
    try {
      const r = app.AsyncResult(id);
      if (values.wait) {
        writeStderr(`waiting for task ${id}${timeout !== undefined ? ` (up to ${timeout}s)` : ""}...\n`);
        try {
          await r.get({ timeout, propagate: false });
        } catch (err) {
          if (err instanceof TimeoutError) {
            writeStderr(`${err.message}\n`);
            return Exit.TEMPFAIL;
          }
          throw err;
        }
      }
      const rec = await r.record();
      if (values.json) {
        out(render(rec ?? { status: "PENDING", task_id: id }));
      } else if (!rec) {
        out("PENDING");
      } else if (rec.status === "SUCCESS") {
        out(render(rec.result));
      } else {
        out(`${rec.status} ${render(rec.result)}`);
        if (values.traceback && rec.traceback) out(rec.traceback);
      }
      if (rec && isReady(rec.status) && rec.status !== "SUCCESS") return Exit.FAILURE;
      return Exit.OK;
    } finally {
      await app.close();
    }
  },
};
