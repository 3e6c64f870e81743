/**
 * The shape of a CLI command and the argument parsing every command shares.
 */
import { parseArgs } from "node:util";
import type { GlobalFlags } from "./load-app.ts";
import { CliError, Exit } from "./exit-codes.ts";
import { writeStdout } from "../src/internal.ts";

/** Option specs in node:util parseArgs form. */
export type OptionSpecs = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

/** What a command receives. */
export interface CommandInput {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  flags: GlobalFlags & { loglevel?: string };
}

/** A CLI command. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text (usage line, options, examples). */
  help: string;
  options: OptionSpecs;
  run(input: CommandInput): Promise<number>;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  app: { type: "string", short: "A" },
  broker: { type: "string" },
  "result-backend": { type: "string" },
  name: { type: "string" },
  loglevel: { type: "string", short: "l" },
  help: { type: "boolean", short: "h" },
};

/** Help text for the global options. */
export const GLOBAL_HELP = `Global options:
  -A, --app <module>        module exporting the app as \`app\` (or default)
  --broker <url>            broker URL (env CELERIAC_BROKER_URL; default nats://127.0.0.1:4222)
  --result-backend <url>    result backend URL (env CELERIAC_RESULT_BACKEND; default redis://127.0.0.1:6379/0)
  --name <name>             app name / namespace (env CELERIAC_NAME)
  -l, --loglevel <level>    debug|info|warning|error|critical
  -h, --help                this help`;

/** Parses argv for `cmd`; unknown options are a usage error naming the option. */
export function parseCommand(cmd: Command, argv: string[]): CommandInput & { help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(Exit.USAGE, `${cmd.name}: ${(err as Error).message} (see celeriac ${cmd.name} --help)`);
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return {
    values: v,
    positionals: parsed.positionals,
    help: Boolean(v.help),
    flags: {
      app: v.app as string | undefined,
      broker: v.broker as string | undefined,
      resultBackend: v["result-backend"] as string | undefined,
      name: v.name as string | undefined,
      loglevel: v.loglevel as string | undefined,
    },
  };
}

/** Prints a line to stdout. */
export function out(line: string): void {
  writeStdout(line + "\n");
}

/** Parses a JSON option, naming it on error. */
export function jsonOption(name: string, raw: string | undefined, fallback: unknown): unknown {
  if (raw === undefined) return fallback;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new CliError(Exit.USAGE, `--${name}: not valid JSON (${(err as Error).message}): ${raw}`);
  }
}

/** Parses a number option (seconds), naming it on error. */
export function numberOption(name: string, raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(n)) {
    throw new CliError(Exit.USAGE, `--${name}: expected a number, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Renders a result for the terminal: strings as is, everything else as JSON (BigInt, Map, Set kept readable). */
export function render(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "undefined";
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v instanceof Map) return Object.fromEntries(v);
    if (v instanceof Set) return [...v];
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    return v;
  });
}
