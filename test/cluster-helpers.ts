/**
 * A private 3-node NATS JetStream cluster on loopback, for fault tests: each server on free
 * client, cluster and monitoring ports with its own store directory, killed and restarted by PID.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, managed, type PrivateServer, waitFor } from "./helpers.ts";

/** One server of a private cluster. */
export interface ClusterNode extends PrivateServer {
  /** Its `server_name`, as JetStream reports leaders. */
  name: string;
  monitorPort: number;
}

/** A private cluster: its nodes and a URL naming all of them. */
export interface PrivateNatsCluster {
  nodes: ClusterNode[];
  /** `nats://a,nats://b,nats://c`, as `brokerUrl` takes several servers. */
  url: string;
  node(name: string): ClusterNode;
  /** Waits until the JetStream meta group has a leader and every running node has joined it. */
  ready(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

async function jsz(node: ClusterNode): Promise<{ meta_cluster?: { leader?: string; cluster_size?: number } } | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`);
    return r.ok ? await r.json() : null;
  } catch {
    return null;
  }
}

/** Starts `size` (default 3) clustered `nats-server -js` processes and waits for a meta leader. */
export async function privateNatsCluster(size = 3): Promise<PrivateNatsCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), "celeriac-nats-cluster-"));
  const cluster = `c${Math.random().toString(36).slice(2, 8)}`;
  const specs: { name: string; port: number; routePort: number; monitorPort: number }[] = [];
  for (let i = 1; i <= size; i++) {
    specs.push({ name: `${cluster}-n${i}`, port: await freePort(), routePort: await freePort(), monitorPort: await freePort() });
  }
  const nodes = await Promise.all(specs.map(async (s) => {
    const store = path.join(dir, s.name);
    const conf = path.join(dir, `${s.name}.conf`);
    const routes = specs.filter((o) => o !== s).map((o) => `nats-route://127.0.0.1:${o.routePort}`);
    writeFileSync(
      conf,
      [
        `server_name: ${s.name}`,
        `listen: 127.0.0.1:${s.port}`,
        `http: 127.0.0.1:${s.monitorPort}`,
        `jetstream { store_dir: "${store}" }`,
        `cluster { name: ${cluster}, listen: 127.0.0.1:${s.routePort}, routes: [${routes.join(", ")}] }`,
      ].join("\n"),
    );
    const server = await managed("nats-server", () => ["-c", conf], s.port, store, `nats://127.0.0.1:${s.port}`, {
      monitorPort: s.monitorPort,
    });
    return { ...server, name: s.name, monitorPort: s.monitorPort } as ClusterNode;
  }));
  const out: PrivateNatsCluster = {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    node(name) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name} in the cluster (${nodes.map((x) => x.name).join(", ")})`);
      return n;
    },
    async ready(timeoutMs = 60_000) {
      await waitFor(async () => {
        const views = await Promise.all(nodes.map(jsz));
        const up = views.filter((v) => v !== null);
        return up.length > 0 && up.every((v) => v?.meta_cluster?.leader);
      }, { timeoutMs, intervalMs: 200, what: "a JetStream meta leader on every running node" });
    },
    async dispose() {
      await Promise.all(nodes.map((n) => n.stop({ hard: true })));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await out.ready();
  return out;
}
