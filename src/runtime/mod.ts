/**
 * The one place where Node and Deno differ. Everything under `src/` that needs the process,
 * the environment, signals or the host name asks this module.
 *
 * `node:process` and `node:os` exist on both runtimes (Deno implements them), so most of this is
 * shared; the few real differences are branched on `isDeno`.
 */
import process from "node:process";
import os from "node:os";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";

/** True when running under Deno. */
export const isDeno: boolean = "Deno" in globalThis;

/** The name and version of the running runtime, for banners and worker stats. */
export function runtimeName(): string {
  if (isDeno) {
    // deno-lint-ignore no-explicit-any
    const d = (globalThis as any).Deno;
    return `deno ${d.version?.deno ?? "?"}`;
  }
  // deno-lint-ignore no-explicit-any
  const bun = (globalThis as any).Bun;
  if (bun) return `bun ${bun.version}`;
  return `node ${process.versions.node}`;
}

/** Reads an environment variable; an empty string counts as unset. */
export function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

/** This machine's host name. */
export function hostname(): string {
  return os.hostname();
}

/** How many tasks can compute at once on this machine (CPU cores available to this process). */
export function cpuCount(): number {
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : Math.max(1, os.cpus().length);
}

/** This process's id. */
export function pid(): number {
  return process.pid;
}

/** Resident set size of this process, in bytes. */
export function rssBytes(): number {
  return process.memoryUsage().rss;
}

/** The 1-minute, 5-minute and 15-minute load averages (zeros where the OS has none). */
export function loadAverage(): [number, number, number] {
  const l = os.loadavg();
  return [l[0] ?? 0, l[1] ?? 0, l[2] ?? 0];
}

/** The termination signals a worker understands. */
export type TerminationSignal = "SIGTERM" | "SIGINT";

/**
 * Calls `handler` each time one of `signals` arrives. Returns a function that removes the handler.
 * (`process.on` for these signals behaves the same on Node and Deno.)
 */
export function onSignals(signals: TerminationSignal[], handler: (signal: TerminationSignal) => void): () => void {
  const bound = signals.map((s) => {
    const fn = () => handler(s);
    process.on(s, fn);
    return [s, fn] as const;
  });
  return () => {
    for (const [s, fn] of bound) process.off(s, fn);
  };
}

/** Ends the process with `code`. */
export function exit(code: number): never {
  process.exit(code);
}

/** Sets the exit code the process will end with, without ending it. */
export function setExitCode(code: number): void {
  process.exitCode = code;
}

/** The command-line arguments after the script name. */
export function args(): string[] {
  return process.argv.slice(2);
}

/** The current working directory. */
export function cwd(): string {
  return process.cwd();
}

/** Writes text to standard output without a trailing newline. */
export function writeStdout(text: string): void {
  process.stdout.write(text);
}

/** Writes text to standard error without a trailing newline. */
export function writeStderr(text: string): void {
  process.stderr.write(text);
}

/** Whether standard output is a terminal (for colours and live views). */
export function stdoutIsTTY(): boolean {
  return Boolean(process.stdout.isTTY);
}

/**
 * A zero-copy Node `Buffer` view of `bytes`, for Node-style libraries (ioredis) that recognise
 * binary arguments only as Buffers. Deno provides the same Buffer through its Node compatibility.
 */
export function nodeBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads a text file (key files, certificates, `.creds`), synchronously: it runs once at start.
 * Throws the runtime's error (with its `code`, e.g. ENOENT, EACCES) for the caller to word.
 */
export function readTextFile(path: string): string {
  return readFileSync(path, "utf8");
}
