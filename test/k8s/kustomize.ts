/**
 * Reads the YAML under k8s/ and builds a kustomization offline, the way `kubectl kustomize` does
 * for the few features these manifests use: resources (files and directories), namespace, images
 * and JSON 6902 patches with a kind/name target. The Kustomization schema (schemas.ts) refuses any
 * other field, so a feature this builder would silently ignore cannot creep in; where kubectl is
 * installed, the test also compares this build with kubectl's.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

/** A Kubernetes object as parsed; schemas.ts checks the rest of its shape. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** One JSON 6902 operation (the patches here use add, replace and remove). */
export interface PatchOp {
  op: "add" | "replace" | "remove";
  path: string;
  value?: unknown;
}

/** The Kustomization fields this builder implements. */
export interface Kustomization {
  namespace?: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { path: string; target: { kind: string; name: string } }[];
}

/** The objects a kustomization produces, the files it read, and what went wrong on the way. */
export interface Build {
  dir: string;
  objects: K8sObject[];
  /** Absolute paths of every YAML file read, kustomization files and patches included. */
  files: Set<string>;
  problems: string[];
}

/** Kinds that live outside namespaces (the namespace transformer renames a Namespace instead). */
const CLUSTER_SCOPED = new Set(["Namespace"]);

/** Every `.yaml`/`.yml` file under `root`, sorted. */
export function yamlFiles(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root).sort()) {
    const p = path.join(root, entry);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(entry)) out.push(p);
  }
  return out;
}

/** The documents of a YAML file as plain values; a syntax error throws, naming the file. */
export function readYaml(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  if (!Array.isArray(docs)) return []; // an empty file
  return docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    return doc.toJS();
  }).filter((v) => v !== null && v !== undefined);
}

/** Builds the kustomization in `dir` (its `kustomization.yaml`). */
export function build(dir: string): Build {
  const out: Build = { dir, objects: [], files: new Set(), problems: [] };
  const kfile = path.join(dir, "kustomization.yaml");
  if (!existsSync(kfile)) {
    out.problems.push(`${dir}: no kustomization.yaml`);
    return out;
  }
  out.files.add(kfile);
  const k = readYaml(kfile)[0] as Kustomization;
  for (const res of k.resources ?? []) {
    const p = path.resolve(dir, res);
    if (!existsSync(p)) {
      out.problems.push(`${kfile}: resource ${res} does not exist`);
    } else if (statSync(p).isDirectory()) {
      const sub = build(p);
      out.objects.push(...sub.objects);
      sub.files.forEach((f) => out.files.add(f));
      out.problems.push(...sub.problems);
    } else {
      out.files.add(p);
      out.objects.push(...(readYaml(p) as K8sObject[]));
    }
  }
  // kustomize's order: patches, then the namespace, then images.
  for (const patch of k.patches ?? []) {
    const p = path.resolve(dir, patch.path);
    if (!existsSync(p)) {
      out.problems.push(`${kfile}: patch ${patch.path} does not exist`);
      continue;
    }
    out.files.add(p);
    const targets = out.objects.filter((o) => o.kind === patch.target.kind && o.metadata.name === patch.target.name);
    if (targets.length !== 1) {
      out.problems.push(`${kfile}: patch ${patch.path} targets ${patch.target.kind}/${patch.target.name}, found ${targets.length}`);
      continue;
    }
    const ops = readYaml(p)[0] as PatchOp[];
    for (const op of ops) {
      const err = applyOp(targets[0]!, op);
      if (err) out.problems.push(`${p}: ${op.op} ${op.path}: ${err}`);
    }
  }
  if (k.namespace) {
    for (const o of out.objects) {
      if (o.kind === "Namespace") o.metadata.name = k.namespace;
      else if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    }
  }
  for (const image of k.images ?? []) {
    for (const c of containersOf(out.objects)) {
      if (typeof c.image !== "string" || imageName(c.image) !== image.name) continue;
      c.image = `${image.newName ?? image.name}:${image.newTag ?? imageTag(c.image)}`;
    }
  }
  return out;
}

function imageName(image: string): string {
  const at = image.lastIndexOf(":");
  return at > image.lastIndexOf("/") ? image.slice(0, at) : image;
}

function imageTag(image: string): string {
  const name = imageName(image);
  return name === image ? "latest" : image.slice(name.length + 1);
}

/** Containers and init containers of every pod template. */
function containersOf(objects: K8sObject[]): { image?: unknown }[] {
  const out: { image?: unknown }[] = [];
  for (const o of objects) {
    const pod = ((o.spec as Record<string, unknown> | undefined)?.template as Record<string, unknown> | undefined)
      ?.spec as Record<string, unknown[] | undefined> | undefined;
    if (!pod) continue;
    out.push(...((pod.containers ?? []) as { image?: unknown }[]), ...((pod.initContainers ?? []) as { image?: unknown }[]));
  }
  return out;
}

/** Applies one JSON 6902 operation in place; returns what went wrong, if anything. */
export function applyOp(target: unknown, op: PatchOp): string | undefined {
  const keys = op.path.split("/").slice(1).map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
  const last = keys.pop();
  if (last === undefined) return "empty path";
  let parent: unknown = target;
  for (const key of keys) {
    parent = parent !== null && typeof parent === "object" ? (parent as Record<string, unknown>)[key] : undefined;
    if (parent === undefined) return `no ${key} on the way`;
  }
  if (parent === null || typeof parent !== "object") return "parent is not an object";
  if (Array.isArray(parent)) {
    const i = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (op.op !== "add" && i === parent.length)) return `bad index ${last}`;
    if (op.op === "add") parent.splice(i, 0, op.value);
    else if (op.op === "replace") parent[i] = op.value;
    else parent.splice(i, 1);
    return undefined;
  }
  const obj = parent as Record<string, unknown>;
  if (op.op !== "add" && !(last in obj)) return `no ${last} to ${op.op}`;
  if (op.op === "remove") delete obj[last];
  else obj[last] = op.value;
  return undefined;
}
