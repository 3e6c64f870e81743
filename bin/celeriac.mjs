#!/usr/bin/env node
// Launcher: works from any directory and from installed consumers (a `node --import tsx`
// shebang does not, FACTS.md). On Deno, run actors/cli.ts directly.
if (!("Deno" in globalThis)) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import("../actors/cli.ts");
