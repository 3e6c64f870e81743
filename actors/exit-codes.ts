import { checkQueueName } from "../src/internal.ts";

/** Exit codes scripts can rely on (BSD sysexits, as Celery uses). */
export const Exit = {
  OK: 0,
  /** The task ended in FAILURE, REVOKED or REJECTED; or the command failed. */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 64,
  /** Broker or backend unreachable. */
  UNAVAILABLE: 69,
  /** Timed out waiting (a result, a reply). */
  TEMPFAIL: 75,
  /** Bad configuration (options, URLs, the -A module), or credentials / certificates refused. */
  CONFIG: 78,
} as const;

/** Checks a `-Q` queue name (a wildcard would be a subject filter): a usage error if it is bad. */
export function usageQueue(queue: string): string {
  try {
    return checkQueueName(queue, "-Q");
  } catch (err) {
    throw new CliError(Exit.USAGE, (err as Error).message);
  }
}

/** An error that ends the CLI with a given code and message (no stack). */
export class CliError extends Error {
  override name = "CliError";
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}
