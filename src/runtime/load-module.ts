/**
 * Imports a user's module by path: the app module of `celeriac worker -A ./tasks.ts`.
 *
 * JavaScript modules are imported as they are. A TypeScript module needs its types stripped:
 * Deno and Bun do that themselves, and so does Node from 22.18 (`process.features.typescript`).
 * An older Node gets tsx, registered here on first use and only then, so that a compiled worker
 * whose app is JavaScript never loads it.
 *
 * tsx is registered twice, as Node has two loaders: its ESM hooks, and its CommonJS hooks. The
 * second matters for a `.ts` module in a project without `"type": "module"`: Node takes such a
 * module for CommonJS, and with the ESM hooks alone it is compiled to CommonJS but loaded through
 * the ESM loader, which then fails on its first import ("Cannot require() ES Module … in a cycle").
 */
import process from "node:process";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** Extensions that need a TypeScript loader. */
const TYPESCRIPT = /\.(?:ts|mts|cts|tsx)$/;

/** Who strips the types of a TypeScript module in this process. */
export type TypeScriptLoader = "runtime" | "tsx";

/** The runtime's own type stripping where it has one, else tsx. */
export function typeScriptLoader(): TypeScriptLoader {
  if ("Deno" in globalThis || "Bun" in globalThis) return "runtime";
  const features = process.features as { typescript?: string | false };
  return features.typescript ? "runtime" : "tsx";
}

let tsxRegistered: Promise<void> | undefined;

function registerTsx(): Promise<void> {
  tsxRegistered ??= (async () => {
    const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
    esm.register();
    cjs.register();
  })();
  return tsxRegistered;
}

/**
 * Imports the module at `file` (absolute, or relative to `baseDir`) and returns its namespace.
 * Errors are the runtime's (a missing file, a syntax error), for the caller to word.
 */
export async function importModule(file: string, baseDir: string): Promise<Record<string, unknown>> {
  const absolute = path.resolve(baseDir, file);
  if (TYPESCRIPT.test(absolute) && typeScriptLoader() === "tsx") await registerTsx();
  return await import(pathToFileURL(absolute).href) as Record<string, unknown>;
}
