/**
 * `celeriac purge`: removes every waiting message from queues.
 */
import { createInterface } from "node:readline/promises";
import process from "node:process";
import type { Command } from "../command.ts";
import { GLOBAL_HELP, out } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit, usageQueue } from "../exit-codes.ts";

export const purgeCommand: Command = {
  name: "purge",
  summary: "remove all waiting tasks from queues",
  help: `Usage: celeriac purge [-Q a,b] [-f]

Removes every task waiting in the queues (running tasks are not affected). Asks for confirmation
unless -f is given; without a terminal, -f is required.

Options:
  -Q, --queues <a,b>        queues to purge (default: the app's defaultQueue)
  -f, --force               do not ask

${GLOBAL_HELP}`,
  options: {
    queues: { type: "string", short: "Q" },
    force: { type: "boolean", short: "f" },
  },
  async run({ values, flags }) {
    const app = await loadApp(flags, "purge");
    try {
      const queues = typeof values.queues === "string"
        ? values.queues.split(",").map((q) => q.trim()).filter(Boolean)
        : [app.config.defaultQueue];
      // Before asking: a wildcard such as ">" would purge every queue.
      queues.forEach((q) => usageQueue(q));
      if (!values.force) {
        if (!process.stdin.isTTY) throw new CliError(Exit.USAGE, "purge: refusing to purge without a terminal to confirm; add -f");
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`Purge all waiting tasks of ${queues.join(", ")} (app ${app.name})? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          out("not purged");
          return Exit.FAILURE;
        }
      }
      const broker = await app.broker();
      let total = 0;
      for (const q of queues) {
        const n = await broker.purge(q);
        total += n;
        out(`purged ${n} message${n === 1 ? "" : "s"} from ${q}`);
      }
      if (queues.length > 1) out(`purged ${total} in all`);
      return Exit.OK;
    } finally {
      await app.close();
    }
  },
};
