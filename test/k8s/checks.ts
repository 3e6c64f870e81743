/**
 * Consistency checks between the manifests and what celeriac actually serves and reads
 * (actors/contract.ts, src/names.ts), and between the manifests themselves. Each check takes the
 * objects of one build and returns its problems, each naming the object; none means it passed.
 * They run after the schema checks, so fields have the types the schemas give them.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { K8sObject } from "./kustomize.ts";
import { DEFAULT_GRACE_SECONDS, ENV, HEALTH_PATHS, WORKER_FLAGS } from "../../actors/contract.ts";
import { NAME_PATTERN, namesFor } from "../../src/names.ts";
import { APP_DEFAULTS } from "../../src/options.ts";

/** A check over one build's objects. */
export type Check = (objects: K8sObject[]) => string[];

/** A Deployment or StatefulSet with its pod template's spec. */
interface Workload {
  obj: K8sObject & { spec: { replicas?: number; serviceName?: string; selector: { matchLabels?: Record<string, string> } } };
  id: string;
  pod: IPodSpec;
  labels: Record<string, string>;
}

function workloads(objects: K8sObject[]): Workload[] {
  return objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet").map((o) => {
    const tpl = (o.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: IPodSpec } }).template;
    return { obj: o as Workload["obj"], id: `${o.kind}/${o.metadata.name}`, pod: tpl.spec, labels: tpl.metadata?.labels ?? {} };
  });
}

function find<T>(objects: K8sObject[], kind: string, name: string | undefined): (K8sObject & T) | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as (K8sObject & T) | undefined;
}

/** A `celeriac <sub> ...` invocation: the launcher is bin/celeriac.mjs, actors/cli.ts or `celeriac`. */
export interface CeleriacCommand {
  sub: string;
  /** Flags as written (`-Q`, `--queues`), with their value or `true`. */
  flags: Map<string, string | true>;
}

export function celeriacCommand(c: IContainer): CeleriacCommand | undefined {
  const tokens = [...(c.command ?? []), ...(c.args ?? [])];
  const at = tokens.findIndex((t) => /(^|\/)(celeriac(\.mjs)?|cli\.ts)$/.test(t));
  if (at < 0 || at + 1 >= tokens.length) return undefined;
  const flags = new Map<string, string | true>();
  const rest = tokens.slice(at + 2);
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    if (!t.startsWith("-")) continue;
    const eq = t.indexOf("=");
    if (t.startsWith("--") && eq > 0) flags.set(t.slice(0, eq), t.slice(eq + 1));
    else if (i + 1 < rest.length && !rest[i + 1]!.startsWith("-")) flags.set(t, rest[++i]!);
    else flags.set(t, true);
  }
  return { sub: tokens[at + 1]!, flags };
}

function flag(cmd: CeleriacCommand, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = cmd.flags.get(n);
    if (typeof v === "string") return v;
  }
  return undefined;
}

/** Every container running `celeriac <sub>`, with its workload. */
function celeriacContainers(objects: K8sObject[], sub: string): { w: Workload; c: IContainer; cmd: CeleriacCommand; id: string }[] {
  return workloads(objects).flatMap((w) =>
    w.pod.containers.flatMap((c) => {
      const cmd = celeriacCommand(c);
      return cmd?.sub === sub ? [{ w, c, cmd, id: `${w.id} container ${c.name}` }] : [];
    })
  );
}

/** A probe's or Service's port, by number or by the container's port name. */
function resolvePort(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === "number") return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** The environment a container sees, as Kubernetes builds it, and what did not resolve. */
export function containerEnv(
  c: IContainer,
  objects: K8sObject[],
  id: string,
): { vars: Map<string, string | undefined>; problems: string[] } {
  const vars = new Map<string, string | undefined>();
  const problems: string[] = [];
  const secretValue = (s: ISecret, key: string) => s.stringData?.[key] ?? (s.data?.[key] !== undefined ? atob(s.data[key]!) : undefined);
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = find<IConfigMap>(objects, "ConfigMap", from.configMapRef.name);
      if (!cm) problems.push(`${id}: envFrom ConfigMap ${from.configMapRef.name} is not in the manifests`);
      for (const [k, v] of Object.entries(cm?.data ?? {})) vars.set(k, v);
    }
    if (from.secretRef) problems.push(`${id}: envFrom a Secret hides which variables exist; use secretKeyRef`);
  }
  const expand = (s: string, what: string) =>
    s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => {
      if (!vars.has(name)) problems.push(`${id}: ${what} uses $(${name}), which is not defined before it (left unexpanded)`);
      return vars.get(name) ?? all;
    });
  for (const e of c.env ?? []) {
    const ref = e.valueFrom;
    if (e.value !== undefined) vars.set(e.name, expand(e.value, `env ${e.name}`));
    else if (ref?.configMapKeyRef) {
      const cm = find<IConfigMap>(objects, "ConfigMap", ref.configMapKeyRef.name);
      const v = cm?.data?.[ref.configMapKeyRef.key];
      if (v === undefined) {
        problems.push(`${id}: env ${e.name}: ConfigMap ${ref.configMapKeyRef.name} has no key ${ref.configMapKeyRef.key}`);
      }
      vars.set(e.name, v);
    } else if (ref?.secretKeyRef) {
      // A Secret may be created outside the manifests (prod): check its keys only when it is here.
      const s = find<ISecret>(objects, "Secret", ref.secretKeyRef.name);
      const v = s ? secretValue(s, ref.secretKeyRef.key) : undefined;
      if (s && v === undefined) problems.push(`${id}: env ${e.name}: Secret ${ref.secretKeyRef.name} has no key ${ref.secretKeyRef.key}`);
      vars.set(e.name, v);
    } else vars.set(e.name, undefined);
  }
  [...(c.command ?? []), ...(c.args ?? [])].forEach((t) => expand(t, "command"));
  return { vars, problems };
}

/** Liveness, readiness (and startup) probes: the contract's paths, on the `--health-port`. */
export const workerProbes: Check = (objects) => {
  const workers = celeriacContainers(objects, "worker");
  if (workers.length === 0) return ["no container runs `celeriac worker`"];
  return workers.flatMap(({ c, cmd, id }) => {
    const port = flag(cmd, "--health-port");
    if (port === undefined) return [`${id}: no --health-port, so nothing answers the probes`];
    const want: [string, IProbe | undefined, string, boolean][] = [
      ["livenessProbe", c.livenessProbe, HEALTH_PATHS.live, true],
      ["readinessProbe", c.readinessProbe, HEALTH_PATHS.ready, true],
      ["startupProbe", c.startupProbe, HEALTH_PATHS.live, false],
    ];
    return want.flatMap(([name, probe, path, required]) => {
      if (!probe) return required ? [`${id}: no ${name}`] : [];
      const get = probe.httpGet;
      if (!get) return [`${id}: ${name} is not an HTTP GET`];
      const problems: string[] = [];
      if (get.path !== path) problems.push(`${id}: ${name} path ${get.path}, the worker serves ${path}`);
      const p = resolvePort(c, get.port);
      if (p !== Number(port)) problems.push(`${id}: ${name} port ${get.port} (${p}) is not --health-port ${port}`);
      return problems;
    });
  });
};

/** Kubernetes must not SIGKILL a warm shutdown: the pod's grace period exceeds `--grace`. */
export const workerGrace: Check = (objects) =>
  celeriacContainers(objects, "worker").flatMap(({ w, cmd, id }) => {
    const grace = Number(flag(cmd, "--grace") ?? DEFAULT_GRACE_SECONDS);
    const pod = w.pod.terminationGracePeriodSeconds ?? 30; // Kubernetes' default
    return pod > grace ? [] : [`${id}: terminationGracePeriodSeconds ${pod} ≤ the worker's grace period ${grace}s`];
  });

/** Every flag passed to `celeriac worker` is one it accepts. */
export const workerFlags: Check = (objects) =>
  celeriacContainers(objects, "worker").flatMap(({ cmd, id }) =>
    [...cmd.flags.keys()].filter((f) => !(WORKER_FLAGS as readonly string[]).includes(f)).map((f) =>
      `${id}: celeriac worker has no flag ${f}`
    )
  );

/** Every CELERIAC_* / OTEL_* variable a pod sets is one celeriac reads (a typo is silently ignored). */
export const envNames: Check = (objects) => {
  const known = new Set<string>(Object.values(ENV));
  return workloads(objects).flatMap((w) =>
    w.pod.containers.flatMap((c) =>
      [...containerEnv(c, objects, "").vars.keys()]
        .filter((name) => /^(CELERIAC|OTEL)_/.test(name) && !known.has(name))
        .map((name) => `${w.id} container ${c.name}: ${name} is not a variable celeriac reads (actors/contract.ts ENV)`)
    )
  );
};

/** $(VAR) references, ConfigMap keys and (where present) Secret keys resolve. */
export const envRefs: Check = (objects) =>
  workloads(objects).flatMap((w) => w.pod.containers.flatMap((c) => containerEnv(c, objects, `${w.id} container ${c.name}`).problems));

interface Trigger {
  type: string;
  metadata: Record<string, string>;
}
interface ScaledObjectSpec {
  scaleTargetRef: { name: string; kind?: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  triggers: Trigger[];
}

const JETSTREAM_KEYS = [
  "natsServerMonitoringEndpoint",
  "account",
  "stream",
  "consumer",
  "lagThreshold",
  "activationLagThreshold",
  "useHttps",
];

/** Each ScaledObject watches the durables of exactly the queues its worker consumes. */
export const kedaTriggers: Check = (objects) =>
  objects.filter((o) => o.kind === "ScaledObject").flatMap((so) => {
    const id = `ScaledObject/${so.metadata.name}`;
    const spec = so.spec as ScaledObjectSpec;
    const problems: string[] = [];
    if ((spec.minReplicaCount ?? 0) < 1) {
      problems.push(`${id}: minReplicaCount must be ≥ 1: a running worker creates the durables KEDA reads`);
    }
    if ((spec.maxReplicaCount ?? 100) < (spec.minReplicaCount ?? 0)) problems.push(`${id}: maxReplicaCount < minReplicaCount`);
    const ref = spec.scaleTargetRef;
    const target = workloads(objects).find((w) => w.obj.kind === (ref.kind ?? "Deployment") && w.obj.metadata.name === ref.name);
    const worker = celeriacContainers(target ? [target.obj] : [], "worker")[0];
    if (!target || !worker) {
      return [...problems, `${id}: scaleTargetRef ${spec.scaleTargetRef.name} is not a Deployment running celeriac worker`];
    }
    if (target.obj.spec.replicas !== undefined) {
      problems.push(`${target.id}: sets replicas, which every apply would reset under KEDA`);
    }
    const queues = flag(worker.cmd, "-Q", "--queues")?.split(",").map((q) => q.trim());
    const concurrency = Number(flag(worker.cmd, "-c", "--concurrency"));
    const app = flag(worker.cmd, "--name") ?? containerEnv(worker.c, objects, "").vars.get(ENV.NAME);
    if (!queues) problems.push(`${worker.id}: no -Q, so the durables cannot be derived`);
    if (!Number.isInteger(concurrency)) problems.push(`${worker.id}: no -c, so lagThreshold cannot be checked`);
    if (!app || !NAME_PATTERN.test(app)) problems.push(`${worker.id}: app name (${ENV.NAME} or --name) not set in the manifests: ${app}`);
    // JetStream stops delivering silently above max_ack_pending (FACTS.md): workers beyond it idle.
    const maxAckPending = APP_DEFAULTS.broker.maxAckPending;
    if ((spec.maxReplicaCount ?? 100) * concurrency > maxAckPending) {
      problems.push(
        `${id}: maxReplicaCount × -c = ${(spec.maxReplicaCount ?? 100) * concurrency} slots > broker.maxAckPending ` +
          `${maxAckPending}: the extra workers would wait for nothing (raise maxAckPending in the app, and here)`,
      );
    }
    if (!queues || !app || !NAME_PATTERN.test(app)) return problems;
    const names = namesFor(app);
    const want = new Set(queues.map((q) => `${names.streamFor(q)}/${names.durable(q)}`));
    const have = new Set<string>();
    for (const [i, t] of spec.triggers.entries()) {
      if (t.type !== "nats-jetstream") continue;
      const m = t.metadata;
      const at = `${id} trigger ${i}`;
      problems.push(...Object.keys(m).filter((k) => !JETSTREAM_KEYS.includes(k)).map((k) => `${at}: nats-jetstream has no parameter ${k}`));
      problems.push(...JETSTREAM_KEYS.slice(0, 4).filter((k) => !m[k]).map((k) => `${at}: ${k} is required`));
      if (m.account !== "$G") problems.push(`${at}: account ${m.account}; celeriac's user is in the global account $G`);
      if (!/^\d+$/.test(m.lagThreshold ?? "")) problems.push(`${at}: lagThreshold must be a whole number, got ${m.lagThreshold}`);
      else if (Number(m.lagThreshold) < concurrency) {
        problems.push(
          `${at}: lagThreshold ${m.lagThreshold} < the worker's concurrency ${concurrency}: KEDA would add workers while slots are free`,
        );
      }
      have.add(`${m.stream}/${m.consumer}`);
    }
    for (const w of want) if (!have.has(w)) problems.push(`${id}: no trigger for ${w} (stream/durable of a queue ${worker.id} consumes)`);
    for (const h of have) if (!want.has(h)) problems.push(`${id}: trigger for ${h}, which ${worker.id} does not consume`);
    return problems;
  });

/** KEDA's endpoint is the headless NATS Service of this namespace, on its monitoring port. */
export const kedaEndpoint: Check = (objects) =>
  objects.filter((o) => o.kind === "ScaledObject").flatMap((so) =>
    (so.spec as ScaledObjectSpec).triggers.filter((t) => t.type === "nats-jetstream").flatMap((t) => {
      const id = `ScaledObject/${so.metadata.name}`;
      const ep = t.metadata.natsServerMonitoringEndpoint ?? "";
      const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)$/.exec(ep);
      if (!m) return [`${id}: natsServerMonitoringEndpoint ${ep} is not <service>.<namespace>.svc.cluster.local:<port>`];
      const [, svcName, ns, port] = m;
      const problems: string[] = [];
      const here = so.metadata.namespace ?? "default";
      if (ns !== here) problems.push(`${id}: natsServerMonitoringEndpoint names namespace ${ns}, the NATS Service is in ${here}`);
      const svc = find<IService>(objects, "Service", svcName);
      if (!svc) return [...problems, `${id}: no Service ${svcName}`];
      if (svc.spec?.clusterIP !== "None") {
        problems.push(`${id}: Service ${svcName} is not headless: KEDA finds a consumer's leader at <server>.${svcName}`);
      }
      const sp = svc.spec?.ports?.find((p) => p.port === Number(port));
      const sts = workloads(objects).find((w) => w.obj.kind === "StatefulSet" && w.obj.spec.serviceName === svcName);
      if (!sp) problems.push(`${id}: Service ${svcName} has no port ${port}`);
      if (!sts) problems.push(`${id}: no StatefulSet has serviceName ${svcName}`);
      else if (sp && !sts.pod.containers.some((c) => resolvePort(c, sp.targetPort ?? sp.port) !== undefined)) {
        problems.push(`${id}: Service ${svcName} port ${port} targets ${sp.targetPort}, which no ${sts.id} container has`);
      }
      return problems;
    })
  );

/** nats.conf agrees with its StatefulSet: routes to every pod, ports, server names, lame duck. */
export const natsCluster: Check = (objects) =>
  workloads(objects).filter((w) => w.pod.containers.some((c) => c.image?.startsWith("nats:"))).flatMap((w) => {
    const c = w.pod.containers.find((x) => x.image?.startsWith("nats:"))!;
    const cmName = w.pod.volumes?.find((v) => v.configMap)?.configMap?.name;
    const conf = find<IConfigMap>(objects, "ConfigMap", cmName)?.data?.["nats.conf"];
    if (!conf) return [`${w.id}: mounts no ConfigMap with nats.conf`];
    const problems: string[] = [];
    const port = (name: string) => c.ports?.find((p) => p.name === name)?.containerPort;
    const replicas = w.obj.spec.replicas ?? 1;
    const want = Array.from(
      { length: replicas },
      (_, i) => `nats://${w.obj.metadata.name}-${i}.${w.obj.spec.serviceName}:${port("cluster")}`,
    );
    const routes = /routes\s*[:=]\s*\[([^\]]*)\]/.exec(conf)?.[1]?.split(/[\s,]+/).filter(Boolean) ?? [];
    if (want.sort().join(" ") !== routes.sort().join(" ")) {
      problems.push(`${w.id}: routes [${routes.join(" ")}] should be [${want.join(" ")}] (replicas ${replicas})`);
    }
    const http = /^\s*http\s*[:=]\s*(?:[\d.]+:)?(\d+)\s*$/m.exec(conf)?.[1];
    if (Number(http) !== port("monitor")) {
      problems.push(`${w.id}: nats.conf http port ${http} is not the container's monitor port ${port("monitor")}`);
    }
    const nameVar = /^\s*server_name\s*[:=]\s*\$(\w+)/m.exec(conf)?.[1];
    const nameEnv = c.env?.find((e) => e.name === nameVar)?.valueFrom?.fieldRef?.fieldPath;
    if (nameEnv !== "metadata.name") {
      problems.push(`${w.id}: server_name must be the pod name (KEDA reaches <server_name>.<headless service>)`);
    }
    const pidFile = /^\s*pid_file\s*[:=]\s*(\S+)/m.exec(conf)?.[1];
    const stop = c.lifecycle?.preStop?.exec?.command ?? [];
    if (!stop.includes("--signal") || stop[stop.indexOf("--signal") + 1] !== `ldm=${pidFile}`) {
      problems.push(`${w.id}: preStop must be nats-server --signal ldm=${pidFile} (lame duck)`);
    }
    const ldm = Number(/^\s*lame_duck_duration\s*[:=]\s*(\d+)s/m.exec(conf)?.[1] ?? 120);
    if ((w.pod.terminationGracePeriodSeconds ?? 30) <= ldm) {
      problems.push(`${w.id}: terminationGracePeriodSeconds ≤ lame_duck_duration ${ldm}s`);
    }
    const probes = [["startupProbe", c.startupProbe], ["livenessProbe", c.livenessProbe], ["readinessProbe", c.readinessProbe]] as const;
    for (const [name, probe] of probes) {
      const get = probe?.httpGet;
      if (!get?.path?.startsWith("/healthz") || resolvePort(c, get.port) !== port("monitor")) {
        problems.push(`${w.id}: ${name} must GET /healthz on the monitor port`);
      }
    }
    return problems;
  });

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** Workload selectors match their templates; Services and PDBs select some pod; serviceNames exist. */
export const selectors: Check = (objects) => {
  const ws = workloads(objects);
  const problems: string[] = [];
  for (const w of ws) {
    if (!selects(w.obj.spec.selector.matchLabels, w.labels)) problems.push(`${w.id}: selector does not match its pod template's labels`);
    if (w.obj.spec.serviceName && !find(objects, "Service", w.obj.spec.serviceName)) {
      problems.push(`${w.id}: serviceName ${w.obj.spec.serviceName} is not a Service here`);
    }
  }
  for (const o of objects) {
    const sel = o.kind === "Service"
      ? (o as K8sObject & IService).spec?.selector
      : o.kind === "PodDisruptionBudget"
      ? (o.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels
      : undefined;
    if ((o.kind === "Service" || o.kind === "PodDisruptionBudget") && !ws.some((w) => selects(sel, w.labels))) {
      problems.push(`${o.kind}/${o.metadata.name}: selects no pod`);
    }
  }
  return problems;
};

/** Non-root, no privilege escalation, read-only root, requests and a memory limit, /tmp for tsx. */
export const podHardening: Check = (objects) =>
  workloads(objects).flatMap((w) => {
    const problems: string[] = [];
    if (w.pod.automountServiceAccountToken !== false) {
      problems.push(`${w.id}: automountServiceAccountToken should be false (no pod here calls the API)`);
    }
    for (const c of w.pod.containers) {
      const id = `${w.id} container ${c.name}`;
      const sc = c.securityContext;
      if ((sc?.runAsNonRoot ?? w.pod.securityContext?.runAsNonRoot) !== true) problems.push(`${id}: not runAsNonRoot`);
      if (sc?.allowPrivilegeEscalation !== false) problems.push(`${id}: allowPrivilegeEscalation is not false`);
      if (sc?.readOnlyRootFilesystem !== true) problems.push(`${id}: root filesystem is writable`);
      if (!sc?.capabilities?.drop?.includes("ALL")) problems.push(`${id}: capabilities not dropped`);
      const r = c.resources;
      if (!r?.requests?.cpu || !r.requests.memory || !r.limits?.memory) {
        problems.push(`${id}: needs cpu and memory requests and a memory limit`);
      }
      if (celeriacCommand(c) && !c.volumeMounts?.some((m) => m.mountPath === "/tmp")) {
        problems.push(`${id}: read-only root and no volume at /tmp, where tsx caches compiled modules`);
      }
    }
    return problems;
  });

/** Every check, by what it asserts. */
export const CHECKS: Record<string, Check> = {
  "worker probes are the contract's paths on --health-port": workerProbes,
  "the pod's grace period exceeds the worker's --grace": workerGrace,
  "worker flags are ones the worker accepts": workerFlags,
  "CELERIAC_*/OTEL_* variables are ones celeriac reads": envNames,
  "environment references resolve": envRefs,
  "KEDA triggers watch the worker's stream and durables": kedaTriggers,
  "KEDA reads the headless NATS Service's monitoring port": kedaEndpoint,
  "nats.conf agrees with the NATS StatefulSet": natsCluster,
  "selectors select": selectors,
  "pods are non-root, hardened and sized": podHardening,
};
