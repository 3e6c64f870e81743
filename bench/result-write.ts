/**
 * What the result write's guard (the Lua script in backend/redis.ts that keeps a stored SUCCESS)
 * costs next to a plain `SET … PX`: the same records, the same ioredis settings (auto-pipelining),
 * 1,000 writes in flight, alternating phases, median of 5. CPU per write of this process and of
 * redis-server (INFO cpu, so other clients' load on a shared server counts too: compare the pair).
 *   node --import tsx bench/result-write.ts
 */
import { Redis } from "ioredis";
import { RedisBackend } from "../src/backend/redis.ts";

const URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const N = 100_000;
const WINDOW = 1000;
const prefix = `bench-rw-${process.pid}-`;
const backend = new RedisBackend(URL, { keyPrefix: prefix, serializer: "msgpack", resultExpiresMs: 60_000 } as never);
await backend.connect();
const plain = new Redis(URL, { enableAutoPipelining: true });
const admin = new Redis(URL);

async function redisCpuMs(): Promise<number> {
  const info = await admin.info("cpu");
  const v = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)![1]);
  return (v("used_cpu_user") + v("used_cpu_sys")) * 1000;
}

const record = (i: number) =>
  backend.encode({ task_id: `t${i}`, status: "SUCCESS", result: i, traceback: null, children: [], date_done: null });

async function phase(write: (i: number) => Promise<unknown>): Promise<{ wall: number; client: number; server: number }> {
  const r0 = await redisCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let done = 0; done < N; done += WINDOW) {
    const ws: Promise<unknown>[] = [];
    for (let i = done; i < done + WINDOW; i++) ws.push(write(i));
    await Promise.all(ws);
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const server = (await redisCpuMs()) - r0;
  return { wall: (wall * 1000) / N, client: (c.user + c.system) / N, server: (server * 1000) / N };
}

const kinds: Record<string, (i: number) => Promise<unknown>> = {
  guard: (i) => backend.storeEncoded(`t${i}`, "SUCCESS", record(i)),
  set: (i) => plain.set(`${prefix}task-meta-t${i}`, Buffer.from(record(i)), "PX", 60_000),
};
const out: Record<string, { wall: number; client: number; server: number }[]> = { guard: [], set: [] };
for (let r = 0; r < 5; r++) {
  for (const k of Object.keys(kinds)) {
    out[k]!.push(await phase(kinds[k]!));
    await admin.eval(`for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end`, 0, `${prefix}*`);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
const rng = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
for (const k of Object.keys(out)) {
  const rs = out[k]!;
  const f = (m: "wall" | "client" | "server") => `${med(rs.map((x) => x[m])).toFixed(1)} (${rng(rs.map((x) => x[m]))})`;
  console.log(`${k.padEnd(6)} µs/write: wall ${f("wall")}, this process CPU ${f("client")}, redis-server CPU ${f("server")}`);
}
await backend.close();
plain.disconnect();
admin.disconnect();
