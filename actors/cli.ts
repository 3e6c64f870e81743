/**
 * The `celeriac` command line. Each command lives in actors/commands/; this file parses the
 * command name, maps errors to exit codes, and exits.
 */
import { type Command, out, parseCommand } from "./command.ts";
import { CliError, Exit } from "./exit-codes.ts";
import { workerCommand } from "./commands/worker.ts";
import { callCommand } from "./commands/call.ts";
import { resultCommand } from "./commands/result.ts";
import { purgeCommand } from "./commands/purge.ts";
import { beatCommand } from "./commands/beat.ts";
import { dlqCommand } from "./commands/dlq.ts";
import { keygenCommand } from "./commands/keygen.ts";
import { monitorCommand } from "./commands/monitor.ts";
import { inspectCommand } from "./commands/inspect.ts";
import { controlCommand } from "./commands/control.ts";
import { statusCommand } from "./commands/status.ts";
import { eventsCommand } from "./commands/events.ts";
import { CeleriacError, ErrorCode } from "../src/mod.ts";
import { args, exit, writeStderr } from "../src/internal.ts";

const COMMANDS: Command[] = [
  workerCommand,
  beatCommand,
  callCommand,
  resultCommand,
  purgeCommand,
  inspectCommand,
  controlCommand,
  statusCommand,
  eventsCommand,
  monitorCommand,
  dlqCommand,
  keygenCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: celeriac <command> [options]   (celeriac <command> --help for details)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Celery for TypeScript, on NATS JetStream and Redis.`;
}

/** Maps an error to the exit code a script can act on. */
function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CeleriacError) {
    if (err.code === ErrorCode.UNAVAILABLE) return Exit.UNAVAILABLE;
    // Wrong credentials or certificates are configuration: retrying will not fix them.
    if (err.code === ErrorCode.AUTH || err.code === ErrorCode.TLS) return Exit.CONFIG;
    if (err.code === ErrorCode.CONFIG || err.code === ErrorCode.PROVISIONING) return Exit.CONFIG;
    if (err.code === ErrorCode.INVALID_ARGUMENT) return Exit.USAGE;
    if (err.code === ErrorCode.TIMEOUT) return Exit.TEMPFAIL;
    if (err.code === ErrorCode.PUBLISH) return Exit.UNAVAILABLE;
  }
  return Exit.FAILURE;
}

/** Runs the CLI with `argv` and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    out(usage());
    return name ? Exit.OK : Exit.USAGE;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    writeStderr(`celeriac: unknown command "${name}"\n\n${usage()}\n`);
    return Exit.USAGE;
  }
  try {
    const input = parseCommand(cmd, rest);
    if (input.help) {
      out(cmd.help);
      return Exit.OK;
    }
    return await cmd.run(input);
  } catch (err) {
    const code = exitCodeFor(err);
    const msg = err instanceof Error ? err.message : String(err);
    writeStderr(`celeriac ${name}: ${msg}\n`);
    if (code === Exit.FAILURE && err instanceof Error && !(err instanceof CeleriacError)) writeStderr(`${err.stack}\n`);
    return code;
  }
}

exit(await main(args()));
