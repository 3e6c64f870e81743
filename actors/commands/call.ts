/**
 * `celeriac call <task>`: sends a task by name; with --wait, waits and prints its result.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, jsonOption, numberOption, out, render } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit } from "../exit-codes.ts";
import { TaskError, TimeoutError } from "../../src/mod.ts";
import { writeStderr } from "../../src/internal.ts";
import { startTracing } from "../otel.ts";

export const callCommand: Command = {
  name: "call",
  summary: "send a task by name",
  help: `Usage: celeriac call <task> [options]

Sends a task and prints its id; with --wait, waits for it and prints its result (and, on stderr,
each progress event it reports: "<state> <value as JSON>").
Exit code: 0 on success, 1 if the task failed (FAILURE/REVOKED/REJECTED), 75 on --timeout.

Options:
  --args <json>             positional arguments, a JSON array (default [])
  --kwargs <json>           keyword arguments, a JSON object
  --countdown <seconds>     run no earlier than this many seconds from now
  --eta <iso date>          run no earlier than this time
  --expires <seconds>       do not run after this many seconds
  --queue <queue>           queue to send to (default: routing)
  --priority <0-9>          priority level; higher runs first (default: the task's, else 0)
  --task-id <id>            use this id
  --wait                    wait for the result and print it
  --timeout <seconds>       give up waiting after this long (with --wait)
  --json                    print the result as JSON with its state

${GLOBAL_HELP}

Example:
  celeriac call add --args '[2,3]' --wait
  celeriac call report --priority 9`,
  options: {
    args: { type: "string" },
    kwargs: { type: "string" },
    countdown: { type: "string" },
    eta: { type: "string" },
    expires: { type: "string" },
    queue: { type: "string" },
    priority: { type: "string" },
    "task-id": { type: "string" },
    wait: { type: "boolean" },
    timeout: { type: "string" },
    json: { type: "boolean" },
  },
  async run({ values, positionals, flags }) {
    const name = positionals[0];
    if (!name) throw new CliError(Exit.USAGE, "call: which task? usage: celeriac call <task> [--args '[..]']");
    const args = jsonOption("args", values.args as string | undefined, []);
    if (!Array.isArray(args)) throw new CliError(Exit.USAGE, "--args: must be a JSON array, e.g. '[2,3]'");
    const kwargs = jsonOption("kwargs", values.kwargs as string | undefined, undefined);
    if (kwargs !== undefined && (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs))) {
      throw new CliError(Exit.USAGE, "--kwargs: must be a JSON object");
    }
    let eta: Date | undefined;
    if (typeof values.eta === "string") {
      eta = new Date(values.eta);
      if (Number.isNaN(eta.getTime())) throw new CliError(Exit.USAGE, `--eta: not a date: ${values.eta}`);
    }
    const timeout = numberOption("timeout", values.timeout);
    const app = await loadApp(flags, "call");
    const stopTracing = await startTracing("call");
    try {
      const r = await app.sendTask(name, args, {
        kwargs: kwargs as Record<string, unknown> | undefined,
        countdown: numberOption("countdown", values.countdown),
        eta,
        expires: numberOption("expires", values.expires),
        queue: values.queue as string | undefined,
        priority: numberOption("priority", values.priority),
        taskId: values["task-id"] as string | undefined,
      });
      if (!values.wait) {
        out(r.id);
        return Exit.OK;
      }
      writeStderr(`sent ${name}[${r.id}]; waiting for its result${timeout !== undefined ? ` (up to ${timeout}s)` : ""}...\n`);
      try {
        const value = await r.get({ timeout, onProgress: (v, state) => writeStderr(`${state} ${render(v)}\n`) });
        out(values.json ? render({ id: r.id, state: "SUCCESS", result: value }) : render(value));
        return Exit.OK;
      } catch (err) {
        if (err instanceof TaskError) {
          if (values.json) out(render({ id: r.id, state: err.state, error: { type: err.remoteType, message: err.remoteMessage } }));
          writeStderr(`${name}[${r.id}] ${err.state}: ${err.message}\n${err.traceback ? err.traceback + "\n" : ""}`);
          return Exit.FAILURE;
        }
        if (err instanceof TimeoutError) {
          writeStderr(`${err.message}; the task may still run — check later with: celeriac result ${r.id}\n`);
          return Exit.TEMPFAIL;
        }
        throw err;
      }
    } finally {
      await app.close();
      await stopTracing();
    }
  },
};
