/**
 * Offline schema checks for the manifests.
 *
 * Kubernetes kinds: kubernetes-models validates types, enums, required fields and apiVersion but
 * lets unknown fields pass (FACTS.md). Its validators are compiled JSON schemas that read exactly
 * the properties their schema defines, so the object is handed to them behind a Proxy that records
 * every key they read: a key present in the manifest that the validator never read is a key the
 * schema does not have (a typo such as `livenesProbe`, or a field at the wrong level).
 *
 * Custom resources (KEDA's ScaledObject) and kustomize files get a small hand-written shape,
 * limited to the fields used here, checked the same strict way.
 */
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscalerBehavior } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerBehavior";

/** A model class of kubernetes-models: its prototype's `validate` throws on a schema violation. */
interface ModelClass {
  prototype: { validate(): void };
}

/** The Kubernetes kinds the manifests may use, by `apiVersion/kind`. Add one here to use it. */
const MODELS: Record<string, ModelClass> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

/** Validates `value` with a model's schema and reports keys the schema does not define. */
export function validateModel(model: ModelClass, value: unknown, where: string): string[] {
  const seen: { path: string; value: object; read: Set<string> }[] = [];
  const problems: string[] = [];
  try {
    model.prototype.validate.call(traced(value, "", seen));
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
  for (const { path, value: v, read } of seen) {
    if (Array.isArray(v)) continue;
    for (const key of Object.keys(v)) if (!read.has(key)) problems.push(`${where}: unknown field ${path}/${key}`);
  }
  return problems;
}

/** Wraps objects (recursively, lazily) so that every key read through them is recorded. */
function traced(value: unknown, path: string, seen: { path: string; value: object; read: Set<string> }[]): unknown {
  if (value === null || typeof value !== "object") return value;
  const read = new Set<string>();
  seen.push({ path, value, read });
  const children = new Map<string, unknown>();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key !== "string" || !Object.hasOwn(target, key)) return Reflect.get(target, key, receiver);
      read.add(key);
      if (!children.has(key)) children.set(key, traced((target as Record<string, unknown>)[key], `${path}/${key}`, seen));
      return children.get(key);
    },
    has(target, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.has(target, key);
    },
  });
}

/** Checks a Kubernetes object against its kind's schema; kinds without one are refused. */
export function validateObject(o: { apiVersion?: unknown; kind?: unknown }, where: string): string[] {
  const key = `${String(o.apiVersion)}/${String(o.kind)}`;
  if (key === "keda.sh/v1alpha1/ScaledObject") return checkShape(SCALED_OBJECT, o, where);
  const model = MODELS[key];
  if (!model) return [`${where}: no schema for ${key} (add its model to MODELS in test/k8s/schemas.ts)`];
  return validateModel(model, o, where);
}

/** A hand-written schema: what a field may hold. Objects refuse keys they do not list. */
export type Shape =
  | { type: "string"; enum?: readonly string[]; pattern?: RegExp }
  | { type: "integer"; min?: number }
  | { type: "boolean" }
  | { type: "any" }
  | { type: "object"; props: Record<string, Shape>; required?: readonly string[] }
  | { type: "map"; values: Shape }
  | { type: "array"; items: Shape }
  | { type: "model"; model: ModelClass };

/** Every way `value` departs from `shape`, each naming its path. */
export function checkShape(shape: Shape, value: unknown, where: string, path = ""): string[] {
  const at = `${where}: ${path || "/"}`;
  switch (shape.type) {
    case "any":
      return [];
    case "string":
      if (typeof value !== "string") return [`${at} must be a string, got ${JSON.stringify(value)}`];
      if (shape.enum && !shape.enum.includes(value)) return [`${at} must be one of ${shape.enum.join(", ")}, got ${value}`];
      if (shape.pattern && !shape.pattern.test(value)) return [`${at} must match ${shape.pattern}, got ${value}`];
      return [];
    case "integer":
      if (!Number.isInteger(value)) return [`${at} must be an integer, got ${JSON.stringify(value)}`];
      return shape.min !== undefined && (value as number) < shape.min ? [`${at} must be ≥ ${shape.min}`] : [];
    case "boolean":
      return typeof value === "boolean" ? [] : [`${at} must be a boolean`];
    case "model":
      return validateModel(shape.model, value, `${where}: ${path}`);
    case "array":
      if (!Array.isArray(value)) return [`${at} must be a list`];
      return value.flatMap((v, i) => checkShape(shape.items, v, where, `${path}/${i}`));
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [`${at} must be a mapping`];
  const entries = Object.entries(value);
  if (shape.type === "map") return entries.flatMap(([k, v]) => checkShape(shape.values, v, where, `${path}/${k}`));
  const problems = (shape.required ?? []).filter((k) => !(k in value)).map((k) => `${at} lacks required field ${k}`);
  for (const [k, v] of entries) {
    const sub = shape.props[k];
    if (!sub) problems.push(`${where}: unknown field ${path}/${k}`);
    else problems.push(...checkShape(sub, v, where, `${path}/${k}`));
  }
  return problems;
}

const str: Shape = { type: "string" };
const int: Shape = { type: "integer", min: 0 };
const strings: Shape = { type: "map", values: str };

/** KEDA ScaledObject (keda.sh/v1alpha1), the fields of KEDA 2.10+ that a ScaledObject here may use. */
export const SCALED_OBJECT: Shape = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  props: {
    apiVersion: { type: "string", enum: ["keda.sh/v1alpha1"] },
    kind: { type: "string", enum: ["ScaledObject"] },
    metadata: {
      type: "object",
      required: ["name"],
      props: { name: str, namespace: str, labels: strings, annotations: strings },
    },
    spec: {
      type: "object",
      required: ["scaleTargetRef", "triggers"],
      props: {
        scaleTargetRef: {
          type: "object",
          required: ["name"],
          props: { name: str, apiVersion: str, kind: str, envSourceContainerName: str },
        },
        pollingInterval: int,
        cooldownPeriod: int,
        initialCooldownPeriod: int,
        idleReplicaCount: int,
        minReplicaCount: int,
        maxReplicaCount: int,
        fallback: { type: "object", required: ["failureThreshold", "replicas"], props: { failureThreshold: int, replicas: int } },
        advanced: {
          type: "object",
          props: {
            restoreToOriginalReplicaCount: { type: "boolean" },
            horizontalPodAutoscalerConfig: {
              type: "object",
              props: { name: str, behavior: { type: "model", model: HorizontalPodAutoscalerBehavior } },
            },
          },
        },
        triggers: {
          type: "array",
          items: {
            type: "object",
            required: ["type", "metadata"],
            props: {
              type: str,
              name: str,
              // KEDA's trigger metadata is map[string]string: a bare YAML number is refused.
              metadata: strings,
              metricType: { type: "string", enum: ["AverageValue", "Value", "Utilization"] },
              useCachedMetrics: { type: "boolean" },
              authenticationRef: { type: "object", required: ["name"], props: { name: str, kind: str } },
            },
          },
        },
      },
    },
  },
};

/** What the test's kustomize builder (kustomize.ts) implements; anything else is refused. */
export const KUSTOMIZATION: Shape = {
  type: "object",
  required: ["apiVersion", "kind"],
  props: {
    apiVersion: { type: "string", enum: ["kustomize.config.k8s.io/v1beta1"] },
    kind: { type: "string", enum: ["Kustomization"] },
    namespace: str,
    resources: { type: "array", items: str },
    images: { type: "array", items: { type: "object", required: ["name"], props: { name: str, newName: str, newTag: str } } },
    patches: {
      type: "array",
      items: {
        type: "object",
        required: ["path", "target"],
        props: { path: str, target: { type: "object", required: ["kind", "name"], props: { kind: str, name: str } } },
      },
    },
  },
};

/** A JSON 6902 patch file. */
export const JSON_PATCH: Shape = {
  type: "array",
  items: {
    type: "object",
    required: ["op", "path"],
    props: { op: { type: "string", enum: ["add", "replace", "remove"] }, path: { type: "string", pattern: /^\// }, value: { type: "any" } },
  },
};
