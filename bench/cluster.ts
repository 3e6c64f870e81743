/**
 * A 3-node nats-server cluster with JetStream on loopback, for the R1 vs R3 section of
 * bench/scale.ts: free ports, its own store directories, killed by PID (never the shared server).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { deadline, progress } from "./lib.ts";

/** A running cluster. */
export interface NatsCluster {
  /** Client URLs of all three servers, comma-separated (what a client's `servers` takes). */
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts three servers routed to each other; resolves once JetStream answers on the cluster. */
export async function startCluster(isReady: (url: string) => Promise<boolean>): Promise<NatsCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), "celeriac-bench-cluster-"));
  const ports = await Promise.all(Array.from({ length: 6 }, freePort));
  const client = ports.slice(0, 3);
  const route = ports.slice(3);
  const routes = route.map((p) => `nats://127.0.0.1:${p}`).join(",");
  const procs: ChildProcess[] = client.map((port, i) =>
    spawn("nats-server", [
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "-js",
      "-sd",
      path.join(dir, `n${i}`),
      "--server_name",
      `n${i}`,
      "--cluster_name",
      "bench",
      "--cluster",
      `nats://127.0.0.1:${route[i]}`,
      "--routes",
      routes,
    ], { stdio: ["ignore", "ignore", "ignore"] })
  );
  const url = client.map((p) => `nats://127.0.0.1:${p}`).join(",");
  const stop = async () => {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? null : new Promise((r) => p.once("exit", r)))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    progress("3-node NATS cluster: waiting for JetStream to elect its meta leader…");
    await deadline(
      (async () => {
        while (!(await isReady(url).catch(() => false))) await new Promise((r) => setTimeout(r, 250));
      })(),
      60_000,
      "the cluster's JetStream",
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}
