/**
 * Result backend URLs for one Redis, Sentinel and Cluster, and the `WAIT` options: what is
 * accepted compiles to what the adapter reads; what is not names the option at fault.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CeleriacOptions, ConfigError } from "celeriac";
import { compileAppOptions } from "../../src/options.ts";
import { parseRedisTarget } from "../../src/backend/redis-target.ts";

function fieldOf(o: CeleriacOptions, env: Record<string, string> = {}): string {
  try {
    compileAppOptions(o, (n) => env[n]);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.field;
  }
  assert.fail("expected the options to be refused");
}

function messageOf(o: CeleriacOptions): string {
  try {
    compileAppOptions(o);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail("expected the options to be refused");
}

describe("redis+sentinel:// and redis+cluster:// URLs", () => {
  it("a sentinel URL gives the sentinels, the master name, the db and the master's credentials", () => {
    assert.deepEqual(parseRedisTarget("redis+sentinel://:s%40cret@h1:26379,h2:26380,[::1]/mymaster/3", "resultBackend"), {
      kind: "sentinel",
      sentinels: [{ host: "h1", port: 26379 }, { host: "h2", port: 26380 }, { host: "::1", port: 26379 }],
      masterName: "mymaster",
      db: 3,
      tls: false,
      password: "s@cret",
    });
    const t = parseRedisTarget("rediss+sentinel://app:pw@h1/m", "resultBackend");
    assert.equal(t.kind, "sentinel");
    assert.ok(t.kind === "sentinel" && t.tls && t.db === 0 && t.username === "app" && t.password === "pw");
  });

  it("a cluster URL gives its seed nodes; a database other than 0 is refused", () => {
    assert.deepEqual(parseRedisTarget("redis+cluster://n1:7000,n2:7001", "resultBackend"), {
      kind: "cluster",
      nodes: [{ host: "n1", port: 7000 }, { host: "n2", port: 7001 }],
      tls: false,
    });
    assert.match(messageOf({ resultBackend: "redis+cluster://n1:7000/2" }), /^resultBackend: a Redis Cluster has only database 0/);
  });

  it("bad URLs are refused naming resultBackend, without echoing the password", () => {
    for (
      const url of [
        "redis+sentinel://h1:26379",
        "redis+sentinel://h1:26379/",
        "redis+sentinel://h1:26379/m/x",
        "redis+sentinel://h1:26379/m/0/extra",
        "redis+sentinel://h1:99999/m",
        "redis+sentinel://h1:26379,,h2/m",
        "redis+cluster://",
        "redis+gossip://h1/m",
        "redis://h1:6379/zero",
      ]
    ) assert.equal(fieldOf({ resultBackend: url }), "resultBackend", url);
    const msg = messageOf({ resultBackend: "redis+sentinel://:hunter2@h1:26379" });
    assert.match(msg, /must name the master/);
    assert.doesNotMatch(msg, /hunter2/);
  });

  it("backend.sentinel builds the same URL; given twice, or incomplete, it is refused by name", () => {
    const c = compileAppOptions({ backend: { sentinel: { sentinels: ["h1:26379", "h2:26379"], masterName: "mymaster", db: 2 } } });
    assert.equal(c.resultBackend, "redis+sentinel://h1:26379,h2:26379/mymaster/2");
    assert.equal(
      fieldOf({ resultBackend: "redis://x:6379/0", backend: { sentinel: { sentinels: ["h1:26379"], masterName: "m" } } }),
      "backend.sentinel",
    );
    assert.equal(fieldOf({ backend: { sentinel: { sentinels: ["h1:26379"] } } }), "backend.sentinel.masterName");
    assert.equal(fieldOf({ backend: { sentinel: { masterName: "m" } } }), "backend.sentinel.sentinels");
    assert.equal(fieldOf({ backend: { sentinel: { sentinels: ["h1:26379"], masterName: "m", db: -1 } } }), "backend.sentinel.db");
    assert.equal(fieldOf({ backend: { sentinel: { sentinels: ["h1:x"], masterName: "m" } } }), "backend.sentinel.sentinels");
    assert.equal(fieldOf({ backend: { sentinel: { db: 1 } } }), "backend.sentinel");
  });

  it("the sentinels' own credentials come from backend.sentinel or the environment, only with Sentinel", () => {
    const url = "redis+sentinel://:masterpw@h1:26379/m/0";
    const c = compileAppOptions({ resultBackend: url, backend: { sentinel: { password: "sentpw" } } });
    assert.deepEqual(c.redis.sentinelAuth, { password: "sentpw" });
    const e = compileAppOptions(
      { resultBackend: url },
      (n) => ({ CELERIAC_REDIS_SENTINEL_USER: "u", CELERIAC_REDIS_SENTINEL_PASSWORD: "p" })[n],
    );
    assert.deepEqual(e.redis.sentinelAuth, { username: "u", password: "p" });
    assert.equal(fieldOf({ resultBackend: "redis://h:6379/0", backend: { sentinel: { password: "x" } } }), "backend.sentinel.password");
    // the master's password once in the URL and once in backend.password: refused as for plain Redis
    assert.equal(fieldOf({ resultBackend: url, backend: { password: "x" } }), "backend.password");
  });
});

describe("backend.waitReplicas and backend.waitTimeout", () => {
  it("compile to a replica count and milliseconds; default off", () => {
    assert.deepEqual(compileAppOptions({}).redis, { sentinelAuth: {}, waitReplicas: 0, waitTimeoutMs: 1000 });
    const c = compileAppOptions({ resultBackend: "redis+sentinel://h1/m", backend: { waitReplicas: 1, waitTimeout: 0.25 } });
    assert.equal(c.redis.waitReplicas, 1);
    assert.equal(c.redis.waitTimeoutMs, 250);
  });

  it("refuses what cannot work, naming the option", () => {
    assert.equal(fieldOf({ backend: { waitReplicas: -1 } }), "backend.waitReplicas");
    assert.equal(fieldOf({ backend: { waitReplicas: 1.5 } }), "backend.waitReplicas");
    assert.equal(fieldOf({ backend: { waitReplicas: 1, waitTimeout: 0 } }), "backend.waitTimeout");
    assert.equal(fieldOf({ resultBackend: "memory://", backend: { waitReplicas: 1 } }), "backend.waitReplicas");
    assert.match(
      messageOf({ resultBackend: "redis+cluster://n1:7000", backend: { waitReplicas: 1 } }),
      /^backend\.waitReplicas: is not supported on redis\+cluster/,
    );
  });
});
