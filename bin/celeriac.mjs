#!/usr/bin/env node
// The `celeriac` command. Installed from npm, the package holds only the compiled CLI (dist/),
// which runs as plain JavaScript on Node, Deno and Bun. In a checkout (src/ next to bin/), the
// TypeScript source runs instead, so that edits need no build: Deno and Bun strip types
// themselves; Node goes through tsx.
import { existsSync } from "node:fs";

const checkout = existsSync(new URL("../src/mod.ts", import.meta.url));
if (!checkout) {
  await import("../dist/actors/cli.js");
} else {
  if (!("Deno" in globalThis) && !("Bun" in globalThis)) {
    const { register } = await import("tsx/esm/api");
    register();
  }
  await import("../actors/cli.ts");
}
