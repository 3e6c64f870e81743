#!/usr/bin/env node
// Adds lock entries for other platforms' optional packages (deno's and msgpackr-extract's
// per-platform binaries) when the registry this lock was made with does not serve them: npm then
// leaves them out, and `npm ci` refuses the lock as out of sync. The entries carry os/cpu, so npm
// skips them on platforms they are not for. Run after `npm install` changes package-lock.json.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;

function platform(name) {
  const n = name.split("/").pop();
  const os = n.includes("darwin") ? "darwin" : n.includes("win32") ? "win32" : "linux";
  const cpu = n.includes("arm64") ? "arm64" : n.includes("x64") ? "x64" : n.endsWith("-arm") ? "arm" : null;
  return { os: [os], ...(cpu ? { cpu: [cpu] } : {}), ...(n.includes("glibc") ? { libc: ["glibc"] } : {}) };
}

let added = 0;
for (const meta of Object.values(packages)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (packages[key]) continue;
    packages[key] = { version: range.replace(/^[\^~=]/, ""), optional: true, ...platform(dep) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)));
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
console.log(`complete-lock: added ${added} optional platform entr${added === 1 ? "y" : "ies"}`);
