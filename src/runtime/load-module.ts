/**
 * Imports a user's module by path: the app module of `celeriac worker -A ./tasks.ts`.
 *
 * JavaScript modules are imported as they are. A TypeScript module needs its types stripped:
 * Deno and Bun do that themselves, and so does Node from 22.18 (`process.features.typescript`).
 * An older Node gets tsx, registered here on first use and only then, so that a compiled worker
 * whose app is JavaScript never loads it. Node's own stripping is narrower than tsx (no `enum`,
 * no extension-less relative imports): a module it refuses for one of those reasons is loaded
 * again through tsx, which a project written for `tsx` expects.
 *
 * tsx is registered twice, as Node has two loaders: its ESM hooks, and its CommonJS hooks. The
 * second matters for a `.ts` module in a project without `"type": "module"`: Node takes such a
 * module for CommonJS, and with the ESM hooks alone it is compiled to CommonJS but loaded through
 * the ESM loader, which then fails on its first import ("Cannot require() ES Module … in a cycle").
 */
import process from "node:process";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** Node's errors for a module its type stripping cannot take, but tsx can. */
const STRIPPING_LIMITS = new Set(["ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX", "ERR_MODULE_NOT_FOUND", "ERR_UNKNOWN_FILE_EXTENSION"]);

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
  const url = pathToFileURL(path.resolve(baseDir, file));
  if (!TYPESCRIPT.test(url.pathname)) return await import(url.href) as Record<string, unknown>;
  const native = typeScriptLoader() === "runtime";
  if (native) {
    try {
      return await import(url.href) as Record<string, unknown>;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if ("Deno" in globalThis || "Bun" in globalThis || !STRIPPING_LIMITS.has(code as string)) throw err;
    }
  }
  await registerTsx();
  // A new URL for the second attempt: the failed one stays failed in the module cache.
  if (native) url.searchParams.set("loader", "tsx");
  return await import(url.href) as Record<string, unknown>;
}
