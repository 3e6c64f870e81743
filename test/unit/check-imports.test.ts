/**
 * scripts/check-imports.ts can fail: on a small tree with one of each violation it names them all,
 * and on the same tree made clean it passes.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { ROOT } from "../helpers.ts";

const isDeno = "Deno" in globalThis;

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "check-imports-"));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  dirs.push(dir);
  return dir;
}

function check(dir: string): { code: number | null; out: string } {
  const script = path.join(ROOT, "scripts/check-imports.ts");
  const [cmd, args] = isDeno
    ? [path.join(ROOT, "node_modules/.bin/deno"), ["run", "-A", script, dir]]
    : [process.execPath, ["--import", "tsx", script, dir]];
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const CLEAN = {
  "src/mod.ts": 'export { a } from "./a.ts";\n',
  "src/internal.ts": 'export { b } from "./b.ts";\n',
  "src/a.ts": 'import { b } from "./b.ts";\nexport const a = b;\n',
  "src/b.ts": "export const b = 1;\n",
  "src/backend/redis.ts": 'import Redis from "ioredis";\nexport { Redis };\n',
  "actors/cli.ts": 'import { a } from "../src/mod.ts";\nimport { b } from "../src/internal.ts";\nconsole.log(a, b);\n',
};

describe("scripts/check-imports.ts", () => {
  it("passes a clean tree", () => {
    const r = check(tree(CLEAN));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /no cycles, boundaries kept/);
  });

  it("names a cycle, a crossed boundary, a package imported outside its adapter, and a deep import from actors", () => {
    const r = check(tree({
      ...CLEAN,
      "src/b.ts": 'import type { a } from "./a.ts";\nexport const b = 1;\nexport type A = typeof a;\n',
      "src/c.ts": 'import { x } from "../actors/cli.ts";\nimport Redis from "ioredis";\nexport { Redis, x };\n',
      "actors/cli.ts":
        'import { b } from "../src/b.ts";\n// import { no } from "../src/c.ts";  (a comment is not an import)\nconsole.log(b);\n',
    }));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /import cycle: src\/(a|b)\.ts → src\/(b|a)\.ts → src\/(a|b)\.ts/);
    assert.match(r.out, /src\/c\.ts imports \.\.\/actors\/cli\.ts: src\/ must not import outside src\//);
    assert.match(r.out, /src\/c\.ts imports ioredis: only ioredis \(the Redis backend only\)/);
    assert.match(r.out, /actors\/cli\.ts imports \.\.\/src\/b\.ts: actors\/ reaches src\/ only through/);
    assert.doesNotMatch(r.out, /imports \.\.\/src\/c\.ts/, "an import in a comment is not counted");
    assert.match(r.out, /4 import problem\(s\)/);
  });
});
