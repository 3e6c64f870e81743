/**
 * Mechanical guards on the import graph, run in .ci/run:
 *
 * - no import cycles among src/ and actors/ modules (type-only imports count: a cycle of types
 *   is still two modules that cannot be understood apart);
 * - src/ never imports actors/, test/, bench/ or examples/;
 * - actors/ imports src/ only through src/mod.ts (the public surface) or src/internal.ts (what
 *   the CLI needs beyond it);
 * - only the broker adapter (src/broker/jetstream/) imports nats.js, only the Redis backend
 *   imports ioredis, only the codec imports msgpackr.
 *
 * `node --import tsx scripts/check-imports.ts [root]` (or `deno run -R scripts/check-imports.ts`);
 * the root defaults to this repository. Prints each violation and exits 1 if there is any.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";

const ROOT = path.resolve(process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), ".."));

/** Which files may import a bare package (by prefix of its name). */
const PACKAGE_OWNERS: { pkg: RegExp; owners: RegExp; what: string }[] = [
  { pkg: /^@nats-io\//, owners: /^src\/broker\/jetstream\//, what: "nats.js (the broker adapter only)" },
  { pkg: /^ioredis$/, owners: /^src\/backend\/redis\.ts$/, what: "ioredis (the Redis backend only)" },
  { pkg: /^msgpackr$/, owners: /^src\/protocol\/codec\.ts$/, what: "msgpackr (the codec only)" },
];

/** The modules actors/ may import from src/. */
const SRC_ENTRIES = new Set(["src/mod.ts", "src/internal.ts"]);

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...listTs(rel));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

// `import … from "x"`, `export … from "x"`, `import "x"`, `import("x")`. Comments are removed
// first so that an example in a doc comment is not taken for an import.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  return [...text.matchAll(SPECIFIER)].map((m) => m[1]!);
}

const files = [...listTs("src"), ...listTs("actors")];
const graph = new Map<string, string[]>();
const problems: string[] = [];

for (const file of files) {
  const edges: string[] = [];
  for (const spec of importsOf(file)) {
    if (spec.startsWith(".")) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (file.startsWith("src/") && !target.startsWith("src/")) {
        problems.push(`${file} imports ${spec}: src/ must not import outside src/`);
      }
      if (file.startsWith("actors/") && target.startsWith("src/") && !SRC_ENTRIES.has(target)) {
        problems.push(`${file} imports ${spec}: actors/ reaches src/ only through src/mod.ts or src/internal.ts`);
      }
      edges.push(target);
    } else if (!spec.startsWith("node:") && !spec.startsWith("npm:") && !spec.startsWith("jsr:")) {
      for (const rule of PACKAGE_OWNERS) {
        if (rule.pkg.test(spec) && !rule.owners.test(file)) problems.push(`${file} imports ${spec}: only ${rule.what}`);
      }
    }
  }
  graph.set(file, edges);
}

// Cycles: a depth-first search that reports each back edge with the path that closes it.
const state = new Map<string, "open" | "done">();
const stack: string[] = [];
const seen = new Set<string>();
function visit(file: string): void {
  state.set(file, "open");
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    if (!graph.has(next)) continue;
    if (state.get(next) === "open") {
      const cycle = [...stack.slice(stack.indexOf(next)), next];
      const key = [...cycle].slice(0, -1).sort().join(" ");
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(`import cycle: ${cycle.join(" → ")}`);
      }
    } else if (!state.has(next)) {
      visit(next);
    }
  }
  stack.pop();
  state.set(file, "done");
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (problems.length) {
  for (const p of problems) console.error(p);
  console.error(`\n${problems.length} import problem(s) in ${files.length} modules`);
  process.exit(1);
}
console.log(`imports: ${files.length} modules, no cycles, boundaries kept`);
