/**
 * `celeriac dlq list | replay | purge`: the dead-letter stream, for operators.
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP, numberOption, out, render } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit, usageQueue } from "../exit-codes.ts";
import { ErrorCode } from "../../src/mod.ts";
import { hasCode, matches, replay, viewOf } from "../../src/internal.ts";
import process from "node:process";

export const dlqCommand: Command = {
  name: "dlq",
  summary: "list, replay or purge dead letters",
  help: `Usage: celeriac dlq list [-Q queue] [--limit n] [--json]
       celeriac dlq replay <seq|task-id> [...] | --all [-Q queue]
       celeriac dlq purge [-Q queue] -f

Dead letters are messages a worker refused (undecodable, unknown task, missing headers, ...) or
that JetStream stopped delivering after maxDeliver attempts. Each keeps its raw message and the
reason. replay puts messages back on their queue (under a new message id) and removes them from
the dead-letter stream; purge removes them.

Options:
  -Q, --queue <queue>       only this queue's dead letters
  --limit <n>               list at most n (default 100)
  --all                     replay every dead letter (of --queue if given)
  -f, --force               purge without asking
  --json                    list as JSON

${GLOBAL_HELP}`,
  options: {
    queue: { type: "string", short: "Q" },
    limit: { type: "string" },
    all: { type: "boolean" },
    force: { type: "boolean", short: "f" },
    json: { type: "boolean" },
  },
  async run({ values, positionals, flags }) {
    const [action, ...refs] = positionals;
    if (!action || !["list", "replay", "purge"].includes(action)) {
      throw new CliError(Exit.USAGE, "dlq: say list, replay or purge (celeriac dlq --help)");
    }
    const queue = values.queue === undefined ? undefined : usageQueue(values.queue as string);
    const app = await loadApp(flags, "dlq");
    try {
      const broker = await app.broker();
      if (action === "list") {
        const limit = numberOption("limit", values.limit) ?? 100;
        const views = (await broker.listDeadLetters({ queue, limit })).map(viewOf);
        if (values.json) {
          out(render(views));
          return Exit.OK;
        }
        if (views.length === 0) out("no dead letters");
        for (const v of views) {
          out(
            `${String(v.seq).padStart(6)}  ${v.time.toISOString()}  ${v.queue}  ${v.task ?? "?"}[${v.taskId ?? "?"}]` +
              `  deliveries=${v.deliveries ?? "?"}  ${v.bytes} B\n        reason: ${v.reason}`,
          );
        }
        return Exit.OK;
      }
      if (action === "purge") {
        if (!values.force) throw new CliError(Exit.USAGE, "dlq purge: add -f to remove dead letters (they cannot be recovered)");
        const n = await broker.purgeDeadLetters(queue);
        out(`purged ${n} dead letter${n === 1 ? "" : "s"}${queue ? ` of ${queue}` : ""}`);
        return Exit.OK;
      }
      if (!values.all && refs.length === 0) throw new CliError(Exit.USAGE, "dlq replay: give sequence numbers or task ids, or --all");
      process.stderr.write("reading dead letters...\n");
      const letters = await broker.listDeadLetters({ queue, limit: Number.MAX_SAFE_INTEGER });
      const chosen = values.all ? letters : letters.filter((d) => refs.some((r) => matches(d, r)));
      const missing = values.all ? [] : refs.filter((r) => !letters.some((d) => matches(d, r)));
      const backend = await app.backend();
      let refused = 0;
      for (const d of chosen) {
        try {
          const r = await replay(broker, d, { forget: (id) => backend.forget(id), signing: app.signing() });
          out(`replayed ${d.seq} to ${r.queue}`);
        } catch (err) {
          // A signed dead letter this app cannot vouch for stays where it is; the others go on.
          if (!hasCode(err, ErrorCode.CONFIG) && !hasCode(err, ErrorCode.INVALID_ARGUMENT)) throw err;
          refused++;
          process.stderr.write(`not replayed: ${(err as Error).message}\n`);
        }
      }
      if (missing.length) process.stderr.write(`no dead letter for: ${missing.join(", ")}\n`);
      if (missing.length || refused) return Exit.FAILURE;
      if (chosen.length === 0) out("nothing to replay");
      return Exit.OK;
    } finally {
      await app.close();
    }
  },
};
