/**
 * `celeriac inspect <method>`: asks workers about their state (Celery's `celery inspect`).
 */
import type { Command } from "../command.ts";
import { GLOBAL_HELP } from "../command.ts";
import { loadApp } from "../load-app.ts";
import { CliError, Exit } from "../exit-codes.ts";
import { ControlCommand } from "../../src/mod.ts";
import { broadcastOptions, printReplies, REMOTE_HELP, REMOTE_OPTIONS, showReply } from "./remote.ts";

/** Inspect methods: CLI name → command. */
const METHODS: Record<string, string> = {
  ping: ControlCommand.PING,
  active: ControlCommand.ACTIVE,
  reserved: ControlCommand.RESERVED,
  scheduled: ControlCommand.SCHEDULED,
  registered: ControlCommand.REGISTERED,
  stats: ControlCommand.STATS,
  revoked: ControlCommand.REVOKED,
  "query-task": ControlCommand.QUERY_TASK,
  "active-queues": ControlCommand.ACTIVE_QUEUES,
};

export const inspectCommand: Command = {
  name: "inspect",
  summary: "ask workers what they are doing (ping, active, stats, ...)",
  help: `Usage: celeriac inspect <method> [args] [options]

Sends an inspect query to every worker (or those named with -d) and prints the replies that
arrive within the timeout, keyed by worker. Exit code: 0, or 69 if no worker replied.

Methods:
  ping                   is it alive? ({ ok: "pong" })
  active                 tasks running now
  reserved               tasks received and waiting to run (held by a rate limit)
  scheduled              ETA tasks held by the worker (always none: they wait in the broker)
  registered             task names the worker knows
  stats                  counters, pool, uptime, pid, ...
  revoked                task ids the worker refuses
  query-task <id>...     where these tasks are (active or reserved)
  active-queues          queues consumed and their durable consumers

Options:
${REMOTE_HELP}

${GLOBAL_HELP}

Example:
  celeriac inspect ping
  celeriac inspect active -d w1@host --json`,
  options: { ...REMOTE_OPTIONS },
  async run({ values, positionals, flags }) {
    const [method, ...rest] = positionals;
    const command = method ? METHODS[method] : undefined;
    if (!command) {
      throw new CliError(
        Exit.USAGE,
        `inspect: ${method ? `unknown method "${method}"` : "which method?"}; use one of ${Object.keys(METHODS).join(", ")}`,
      );
    }
    if (command === ControlCommand.QUERY_TASK && rest.length === 0) throw new CliError(Exit.USAGE, "inspect query-task: which task id(s)?");
    const app = await loadApp(flags, "inspect");
    try {
      const opts = broadcastOptions(values);
      const args = command === ControlCommand.QUERY_TASK ? { ids: rest } : {};
      const replies = await app.control.broadcast(command, args, opts);
      return printReplies(replies, Boolean(values.json), showReply);
    } finally {
      await app.close();
    }
  },
};
