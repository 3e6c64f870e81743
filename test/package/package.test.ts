/**
 * The package as users get it: `npm pack` (which builds dist/), the tarball installed into fresh
 * projects in a temp dir from npm's cache (`--prefer-offline`: no network beyond what npm already
 * holds), then used the ways a user would — plain Node ESM and CommonJS programs, a TypeScript
 * project type-checking against the shipped .d.ts, Deno and Bun, and the `celeriac` command
 * loading a TypeScript app module in an ES module project and in a CommonJS one.
 *
 * Runs on Node only (`npm run test:package`); it drives Deno and Bun as child processes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cleanup, NATS_URL, REDIS_URL, ROOT, uniqueName, waitFor } from "../helpers.ts";

/** The whole installed tree of `npm install celeriac` (OpenTelemetry SDK not included). */
const MAX_INSTALLED_BYTES = 25 * 1000 * 1000;
const MAX_INSTALLED_PACKAGES = 30;

interface Ran {
  code: number | string;
  out: string;
}

/** Runs a command to its end (killed after `timeoutMs`), capturing stdout and stderr together. */
function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // No NODE_OPTIONS from the test runner: the programs start as a user's would.
    const { NODE_OPTIONS: _, ...base } = process.env;
    const child = spawn(cmd, args, {
      cwd,
      env: { ...base, DENO_DIR: path.join(ROOT, ".deno"), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, out });
    });
  });
}

async function ok(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const r = await run(cmd, args, cwd, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed (${r.code}):\n${r.out}`);
  return r.out;
}

/** Bytes on disk and package count of a node_modules tree (a hard-linked file counts once). */
function treeSize(dir: string): { bytes: number; packages: number } {
  let bytes = 0;
  let packages = 0;
  const inodes = new Set<string>();
  const walk = (d: string, inNodeModules: boolean) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        const isPackage = inNodeModules && !e.name.startsWith("@") && !e.name.startsWith(".");
        if (isPackage) packages++;
        walk(p, e.name === "node_modules" || (inNodeModules && e.name.startsWith("@")));
      } else if (e.isFile()) {
        const st = statSync(p);
        if (!inodes.has(`${st.dev}:${st.ino}`)) bytes += st.size;
        inodes.add(`${st.dev}:${st.ino}`);
      }
    }
  };
  walk(dir, true);
  return { bytes, packages };
}

const tmp = mkdtempSync(path.join(tmpdir(), "celeriac-package-"));
const names: string[] = [];
const connection = { CELERIAC_BROKER_URL: NATS_URL, CELERIAC_RESULT_BACKEND: REDIS_URL };
const npm = "npm";
const deno = path.join(ROOT, "node_modules/.bin/deno");
const bun = path.join(ROOT, "node_modules/.bin/bun");
const tsc = path.join(ROOT, "node_modules/.bin/tsc");
const TYPES_NODE = JSON.parse(readFileSync(path.join(ROOT, "node_modules/@types/node/package.json"), "utf8")).version as string;

/** A fresh app name for one program, cleaned up after the suite. */
function appName(): string {
  const n = uniqueName("pkg");
  names.push(n);
  return n;
}

let tarball = "";

/** A new project in the temp dir with the tarball installed. */
async function project(name: string, pkg: Record<string, unknown>, extra: string[] = []): Promise<string> {
  const dir = path.join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  await ok("mkdir", ["-p", dir], tmp);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, ...pkg }, null, 2));
  await ok(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball, ...extra], dir);
  return dir;
}

// A round trip in one process: a worker, a call, its result. The app name comes from the test.
const ROUND_TRIP = `
const name = process.env.APP_NAME;
const app = new Celeriac({ name, resultKeyPrefix: name + "-", brokerUrl: process.env.CELERIAC_BROKER_URL, resultBackend: process.env.CELERIAC_RESULT_BACKEND });
const add = app.task("add", (a, b) => a + b);
const worker = app.worker({ concurrency: 1 });
await worker.start();
const r = await add.delay(2, 3);
console.log("result", await r.get({ timeout: 30 }));
await worker.stop();
await app.close();
`;

const TS_TASKS = `import { Celeriac } from "celeriac";
const name: string = process.env.APP_NAME ?? "unset";
export const app = new Celeriac({ name, resultKeyPrefix: \`\${name}-\` });
export const add = app.task("add", (a: number, b: number): number => a + b);
`;

describe("the installed package", { timeout: 600_000 }, () => {
  let plain = "";

  before(async () => {
    await ok(npm, ["pack", "--pack-destination", tmp, "--loglevel=error"], ROOT);
    tarball = path.join(tmp, readdirSync(tmp).find((f) => f.endsWith(".tgz"))!);
    // With @types/node, as a Node back end's TypeScript project has it (the type-check tests).
    plain = await project("plain", { type: "module" }, [`@types/node@${TYPES_NODE}`]);
    // The compiled package needs no TypeScript loader: without tsx and esbuild on disk, anything
    // that reached for them would fail. (tsx stays a dependency for `-A ./tasks.ts` on older Node.)
    for (const dep of ["tsx", "esbuild", "@esbuild"]) rmSync(path.join(plain, "node_modules", dep), { recursive: true, force: true });
  });

  after(async () => {
    for (const n of names) await cleanup(n, `${n}-`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  it("ships dist/ (JavaScript, .d.ts, source maps) and docs/, not the TypeScript source", () => {
    const pkg = path.join(plain, "node_modules/celeriac");
    const manifest = JSON.parse(readFileSync(path.join(pkg, "package.json"), "utf8"));
    assert.deepEqual(manifest.exports["."], { types: "./dist/src/mod.d.ts", default: "./dist/src/mod.js" });
    for (const f of ["dist/src/mod.js", "dist/src/mod.d.ts", "dist/src/mod.js.map", "dist/actors/cli.js", "docs/canvas.md"]) {
      assert.ok(statSync(path.join(pkg, f)).isFile(), `${f} is in the package`);
    }
    assert.throws(() => statSync(path.join(pkg, "src")), "no src/ in the package");
  });

  it("a plain Node ES module program runs a worker and gets a result", async () => {
    writeFileSync(path.join(plain, "main.mjs"), `import { Celeriac } from "celeriac";\n${ROUND_TRIP}`);
    const out = await ok(process.execPath, ["main.mjs"], plain, { ...connection, APP_NAME: appName() });
    assert.match(out, /^result 5$/m);
  });

  it("a CommonJS program require()s the package and gets a result", async () => {
    writeFileSync(path.join(plain, "main.cjs"), `const { Celeriac } = require("celeriac");\n(async () => {${ROUND_TRIP}})();`);
    const out = await ok(process.execPath, ["main.cjs"], plain, { ...connection, APP_NAME: appName() });
    assert.match(out, /^result 5$/m);
  });

  it("the compiled CLI runs a worker for a JavaScript app module, without tsx", async () => {
    const name = appName();
    writeFileSync(
      path.join(plain, "tasks.mjs"),
      `import { Celeriac } from "celeriac";\nexport const app = new Celeriac({ name: "${name}", resultKeyPrefix: "${name}-" });\napp.task("add", (a, b) => a + b);\n`,
    );
    await roundTripThroughCli(plain, "./tasks.mjs", name);
  });

  // The pools' child entry (dist/src/worker/pool/child.js) must ship and load from the package.
  for (const pool of ["process", "threads"] as const) {
    it(`the compiled CLI runs the task in a -P ${pool} child, without tsx`, async () => {
      const name = appName();
      writeFileSync(
        path.join(plain, `pool-${pool}.mjs`),
        `import { Celeriac } from "celeriac";\nexport const app = new Celeriac({ name: "${name}", resultKeyPrefix: "${name}-" });\n` +
          `app.task("add", (a, b) => a + b);\n`,
      );
      await roundTripThroughCli(plain, `./pool-${pool}.mjs`, name, ["npx", "celeriac"], ["-P", pool]);
    });
  }

  it("asked for traces without the OpenTelemetry SDK, the CLI says what to install", async () => {
    const r = await run("npx", ["celeriac", "worker", "-A", "./tasks.mjs"], plain, {
      ...connection,
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    });
    assert.equal(r.code, 78, r.out);
    assert.match(
      r.out,
      /OTEL_EXPORTER_OTLP_ENDPOINT asks for traces.*npm install @opentelemetry\/sdk-node @opentelemetry\/exporter-trace-otlp-http/,
    );
  });

  // The compiler is the repository's (the same major), not installed again in the project.
  for (const resolution of ["nodenext", "bundler"] as const) {
    it(`a strict TypeScript project (moduleResolution ${resolution}) gets typed tasks from the shipped .d.ts`, async () => {
      writeFileSync(
        path.join(plain, "typed.ts"),
        `import { Celeriac, type AsyncResult } from "celeriac";
const app = new Celeriac({ name: "typed" });
const add = app.task("add", (a: number, b: number) => a + b);
export async function typed(): Promise<number> {
  const r: AsyncResult<number> = await add.delay(2, 3);
  // @ts-expect-error a string is not a number
  await add.delay("x");
  // @ts-expect-error the result is a number, not a string (an \`any\` would let this through)
  const s: string = await r.get();
  return s.length + (await r.get());
}
`,
      );
      writeFileSync(
        path.join(plain, `tsconfig.${resolution}.json`),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: "es2022",
            lib: ["es2023", "dom"],
            types: ["node"],
            skipLibCheck: false,
            module: resolution === "nodenext" ? "nodenext" : "esnext",
            moduleResolution: resolution,
          },
          files: ["typed.ts"],
        }),
      );
      await ok(tsc, ["-p", `tsconfig.${resolution}.json`], plain);
      // The same file with the expected errors made real must fail: the check above is not vacuous.
      writeFileSync(
        path.join(plain, "typed.ts"),
        readFileSync(path.join(plain, "typed.ts"), "utf8").replaceAll("// @ts-expect-error", "//"),
      );
      const r = await run(tsc, ["-p", `tsconfig.${resolution}.json`], plain);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /typed\.ts\(7,\d+\): error TS2554: Expected 2 arguments/, r.out);
      assert.match(r.out, /typed\.ts\(9,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/, r.out);
    });
  }

  it("Deno imports the installed package (npm: specifier) and gets a result", async () => {
    writeFileSync(path.join(plain, "main-deno.ts"), `import { Celeriac } from "npm:celeriac";\n${ROUND_TRIP}`);
    const out = await ok(deno, ["run", "-A", "main-deno.ts"], plain, { ...connection, APP_NAME: appName() });
    assert.match(out, /^result 5$/m);
  });

  it("Bun runs the same program and gets a result", async () => {
    const out = await ok(bun, ["main.mjs"], plain, { ...connection, APP_NAME: appName() });
    assert.match(out, /^result 5$/m);
  });

  const tsProjects: Record<string, string> = {};
  for (const kind of ["module", "commonjs"] as const) {
    it(`npx celeriac worker -A ./tasks.ts loads a TypeScript app module (${kind} project)`, async () => {
      const dir = tsProjects[kind] = await project(`ts-${kind}`, kind === "module" ? { type: "module" } : {});
      writeFileSync(path.join(dir, "tasks.ts"), TS_TASKS);
      await roundTripThroughCli(dir, "./tasks.ts", appName());
      if (kind === "commonjs") {
        const { bytes, packages } = treeSize(path.join(dir, "node_modules"));
        console.log(`installed: ${(bytes / 1e6).toFixed(1)} MB in ${packages} packages (npm install celeriac)`);
        assert.ok(bytes <= MAX_INSTALLED_BYTES, `installed tree is ${bytes} bytes, over ${MAX_INSTALLED_BYTES}`);
        assert.ok(packages <= MAX_INSTALLED_PACKAGES, `installed tree has ${packages} packages, over ${MAX_INSTALLED_PACKAGES}`);
      }
    });
  }

  it("the installed CLI runs on Deno (deno run -A npm:celeriac) and on Bun (bun x --bun celeriac)", async () => {
    const dir = tsProjects.module;
    assert.ok(dir, "the module project was set up by the test before");
    await roundTripThroughCli(dir, "./tasks.ts", appName(), [deno, "run", "-A", "npm:celeriac"]);
    await roundTripThroughCli(dir, "./tasks.ts", appName(), [bun, "x", "--bun", "celeriac"]);
  });
});

/** `<launcher> worker -A <module>` until ready, then `npx celeriac call add --wait` against it. */
async function roundTripThroughCli(
  dir: string,
  module: string,
  name: string,
  launcher = ["npx", "celeriac"],
  workerArgs: string[] = [],
): Promise<void> {
  const env = { ...connection, APP_NAME: name, CELERIAC_NAME: name, DENO_DIR: path.join(ROOT, ".deno") };
  const { NODE_OPTIONS: _, ...base } = process.env;
  // Its own process group: npx starts the worker as its child, and both must get the signal.
  const worker = spawn(launcher[0]!, [...launcher.slice(1), "worker", "-A", module, "-c", "1", ...workerArgs], {
    cwd: dir,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  worker.stdout.on("data", (d) => (out += d));
  worker.stderr.on("data", (d) => (out += d));
  let exited = false;
  const closed = new Promise<void>((r) => worker.on("close", () => r()));
  worker.on("close", () => (exited = true));
  try {
    await waitFor(() => /ready\.\s*$/m.test(out) || exited, { timeoutMs: 60_000, what: "the worker to be ready" });
    assert.ok(!exited, `the worker exited:\n${out}`);
    const call = await ok("npx", ["celeriac", "call", "add", "--args", "[2,3]", "--wait", "--timeout", "30", "-A", module], dir, env);
    assert.match(call, /^5$/m, call);
  } finally {
    if (!exited) process.kill(-worker.pid!, "SIGTERM");
    await closed;
  }
}
