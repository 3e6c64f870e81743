/**
 * The Kubernetes manifests (k8s/), checked offline: every YAML file parses; the base and every
 * overlay build (test/k8s/kustomize.ts); every object passes its Kubernetes schema with no unknown
 * field (test/k8s/schemas.ts); and the manifests agree with what the worker serves and reads
 * (actors/contract.ts) and with each other (test/k8s/checks.ts). The second suite breaks a copy
 * of the manifests in one place per check and asserts that the check notices.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { applyOp, type Build, build, type K8sObject, readYaml, yamlFiles } from "../k8s/kustomize.ts";
import { checkShape, JSON_PATCH, KUSTOMIZATION, validateObject } from "../k8s/schemas.ts";
import {
  type Check,
  CHECKS,
  envNames,
  envRefs,
  kedaEndpoint,
  kedaTriggers,
  natsCluster,
  podHardening,
  selectors,
  workerFlags,
  workerGrace,
  workerProbes,
} from "../k8s/checks.ts";

const K8S = fileURLToPath(new URL("../../k8s", import.meta.url));

/** k8s/ itself (what `kubectl apply -k k8s/` applies) and each overlay. */
function roots(): string[] {
  const overlays = path.join(K8S, "overlays");
  return [K8S, ...readdirSync(overlays).sort().map((d) => path.join(overlays, d))];
}

const builds = new Map<string, Build>();
function built(dir: string): Build {
  if (!builds.has(dir)) builds.set(dir, build(dir));
  return builds.get(dir)!;
}

const rel = (p: string) => path.relative(K8S, p) || ".";
const idOf = (o: K8sObject) => `${o.kind}/${o.metadata?.name}`;

/** Schema problems of a build's objects. */
function schemaProblems(b: Build): string[] {
  return b.objects.flatMap((o) => validateObject(o, `${rel(b.dir)} ${idOf(o)}`));
}

describe("k8s manifests", () => {
  it("every YAML file under k8s/ parses and some kustomization uses it", () => {
    const used = new Set(roots().flatMap((r) => [...built(r).files]));
    const files = yamlFiles(K8S);
    for (const f of files) readYaml(f); // throws on a syntax error, naming the file
    assert.deepEqual(files.filter((f) => !used.has(f)).map(rel), [], "files no kustomization reaches");
  });

  it("kustomization and patch files use only what the offline builder implements", () => {
    const problems: string[] = [];
    for (const r of roots()) {
      for (const f of built(r).files) {
        const shape = path.basename(f) === "kustomization.yaml" ? KUSTOMIZATION : Array.isArray(readYaml(f)[0]) ? JSON_PATCH : undefined;
        if (shape) problems.push(...checkShape(shape, readYaml(f)[0], rel(f)));
      }
    }
    assert.deepEqual(problems, []);
  });

  for (const dir of roots()) {
    it(`${rel(dir)}: builds (resources and patches exist, patch targets match one object)`, () => {
      const b = built(dir);
      assert.deepEqual(b.problems, []);
      assert.ok(b.objects.length > 0);
      const ids = b.objects.map((o) => `${o.metadata.namespace ?? ""}/${idOf(o)}`);
      assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), [], "duplicate objects");
    });

    it(`${rel(dir)}: every object passes its schema, with no unknown field`, () => {
      assert.deepEqual(schemaProblems(built(dir)), []);
    });
  }

  for (const [name, check] of Object.entries(CHECKS)) {
    it(name, () => {
      assert.deepEqual(roots().flatMap((r) => check(built(r).objects).map((p) => `${rel(r)}: ${p}`)), []);
    });
  }

  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
  it("the offline build equals kubectl kustomize's", { skip: !kubectl && "kubectl is not installed" }, () => {
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const sorted = (os: K8sObject[]) => [...os].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    for (const dir of roots()) {
      const out = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
      assert.equal(out.status, 0, out.stderr);
      const file = path.join(mkdtempSync(path.join(tmpdir(), "celeriac-k8s-")), "out.yaml");
      writeFileSync(file, out.stdout);
      try {
        assert.deepEqual(sorted(built(dir).objects), sorted(readYaml(file) as K8sObject[]), rel(dir));
      } finally {
        rmSync(path.dirname(file), { recursive: true, force: true });
      }
    }
  });
});

/** A fresh copy of the dev overlay's objects (the one with every kind, the Secret included). */
function devObjects(): K8sObject[] {
  return structuredClone(built(path.join(K8S, "overlays", "dev")).objects);
}

/** Mutations below reach deep into objects the schemas already checked. */
// deno-lint-ignore no-explicit-any -- deliberately untyped, see above
type Any = any;
function get(objects: K8sObject[], id: string): Any {
  const o = objects.find((x) => idOf(x) === id);
  assert.ok(o, `no ${id}`);
  return o;
}
const worker = (os: K8sObject[]) => get(os, "Deployment/celeriac-worker").spec.template.spec;
const workerContainer = (os: K8sObject[]) => worker(os).containers[0];
const trigger = (os: K8sObject[]) => get(os, "ScaledObject/celeriac-worker").spec.triggers[0].metadata;
const nats = (os: K8sObject[]) => get(os, "StatefulSet/nats");
const setArg = (os: K8sObject[], flag: string, value: string) => {
  const args: string[] = workerContainer(os).args;
  args[args.indexOf(flag) + 1] = value;
};

/** One way to break the manifests, the check that must notice, and what it must say. */
interface Breakage {
  what: string;
  check: Check;
  breakIt: (objects: K8sObject[]) => void;
  says: RegExp;
}

const BREAKAGES: Breakage[] = [
  {
    what: "liveness path",
    check: workerProbes,
    breakIt: (os) => (workerContainer(os).livenessProbe.httpGet.path = "/healthz"),
    says: /livenessProbe path \/healthz, the worker serves \/livez/,
  },
  {
    what: "readiness path",
    check: workerProbes,
    breakIt: (os) => (workerContainer(os).readinessProbe.httpGet.path = "/livez"),
    says: /readinessProbe path \/livez, the worker serves \/readyz/,
  },
  {
    what: "probe port",
    check: workerProbes,
    breakIt: (os) => (workerContainer(os).readinessProbe.httpGet.port = 9090),
    says: /readinessProbe port 9090 .* is not --health-port 8080/,
  },
  {
    what: "--health-port value",
    check: workerProbes,
    breakIt: (os) => setArg(os, "--health-port", "8081"),
    says: /livenessProbe port health \(8080\) is not --health-port 8081/,
  },
  { what: "no probes", check: workerProbes, breakIt: (os) => delete workerContainer(os).livenessProbe, says: /no livenessProbe/ },
  {
    what: "pod grace below --grace",
    check: workerGrace,
    breakIt: (os) => (worker(os).terminationGracePeriodSeconds = 30),
    says: /terminationGracePeriodSeconds 30 ≤ the worker's grace period 30s/,
  },
  {
    what: "--grace raised alone",
    check: workerGrace,
    breakIt: (os) => setArg(os, "--grace", "60"),
    says: /45 ≤ the worker's grace period 60s/,
  },
  {
    what: "no --grace: the default applies",
    check: workerGrace,
    breakIt: (os) => {
      const args: string[] = workerContainer(os).args;
      args.splice(args.indexOf("--grace"), 2);
      worker(os).terminationGracePeriodSeconds = 20;
    },
    says: /20 ≤ the worker's grace period 30s/,
  },
  {
    what: "unknown flag",
    check: workerFlags,
    breakIt: (os) => workerContainer(os).args.push("--prefetch-multiplier", "4"),
    says: /no flag --prefetch-multiplier/,
  },
  {
    what: "misspelt variable",
    check: envNames,
    breakIt: (os) => workerContainer(os).env.push({ name: "CELERIAC_BROKER", value: "x" }),
    says: /CELERIAC_BROKER is not a variable/,
  },
  {
    what: "misspelt ConfigMap key",
    check: envNames,
    breakIt: (os) => (get(os, "ConfigMap/celeriac-config").data.OTEL_ENDPOINT = "x"),
    says: /OTEL_ENDPOINT is not a variable/,
  },
  {
    what: "URL before the credentials it uses",
    check: envRefs,
    breakIt: (os) => {
      const env: Any[] = workerContainer(os).env;
      env.unshift(...env.splice(env.findIndex((e) => e.name === "CELERIAC_BROKER_URL"), 1));
    },
    says: /env CELERIAC_BROKER_URL uses \$\(NATS_USER\), which is not defined before it/,
  },
  {
    what: "ConfigMap key gone",
    check: envRefs,
    breakIt: (os) => delete get(os, "ConfigMap/celeriac-config").data.NATS_HOST,
    says: /\$\(NATS_HOST\), which is not defined/,
  },
  {
    what: "Secret key gone",
    check: envRefs,
    breakIt: (os) => delete get(os, "Secret/celeriac-secrets").stringData.REDIS_PASSWORD,
    says: /Secret celeriac-secrets has no key REDIS_PASSWORD/,
  },
  {
    what: "consumer name",
    check: kedaTriggers,
    breakIt: (os) => (trigger(os).consumer = "celery"),
    says: /no trigger for CELERIAC_TASKS\/q_celery/,
  },
  {
    what: "app name",
    check: kedaTriggers,
    breakIt: (os) => (get(os, "ConfigMap/celeriac-config").data.CELERIAC_NAME = "jobs"),
    says: /no trigger for JOBS_TASKS\/q_celery/,
  },
  {
    what: "--name overrides",
    check: kedaTriggers,
    breakIt: (os) => workerContainer(os).args.push("--name", "billing"),
    says: /no trigger for BILLING_TASKS\/q_celery/,
  },
  {
    what: "a second queue",
    check: kedaTriggers,
    breakIt: (os) => setArg(os, "-Q", "celery,emails"),
    says: /no trigger for CELERIAC_TASKS\/q_emails/,
  },
  {
    what: "a queue the worker left",
    check: kedaTriggers,
    breakIt: (os) => setArg(os, "-Q", "emails"),
    says: /trigger for CELERIAC_TASKS\/q_celery, which .* does not consume/,
  },
  { what: "account", check: kedaTriggers, breakIt: (os) => (trigger(os).account = "CELERIAC"), says: /account CELERIAC/ },
  {
    what: "lagThreshold below -c",
    check: kedaTriggers,
    breakIt: (os) => (trigger(os).lagThreshold = "8"),
    says: /lagThreshold 8 < the worker's concurrency 16/,
  },
  {
    what: "scale to zero",
    check: kedaTriggers,
    breakIt: (os) => (get(os, "ScaledObject/celeriac-worker").spec.minReplicaCount = 0),
    says: /minReplicaCount must be ≥ 1/,
  },
  {
    what: "more slots than max_ack_pending",
    check: kedaTriggers,
    breakIt: (os) => (get(os, "ScaledObject/celeriac-worker").spec.maxReplicaCount = 100),
    says: /maxReplicaCount × -c = 1600 slots > broker.maxAckPending 1000/,
  },
  {
    what: "replicas under KEDA",
    check: kedaTriggers,
    breakIt: (os) => (get(os, "Deployment/celeriac-worker").spec.replicas = 2),
    says: /sets replicas/,
  },
  {
    what: "scale target",
    check: kedaTriggers,
    breakIt: (os) => (get(os, "ScaledObject/celeriac-worker").spec.scaleTargetRef.name = "celeriac-beat"),
    says: /not a Deployment running celeriac worker/,
  },
  {
    what: "endpoint namespace",
    check: kedaEndpoint,
    breakIt: (os) => (trigger(os).natsServerMonitoringEndpoint = "nats-headless.celeriac.svc.cluster.local:8222"),
    says: /names namespace celeriac, the NATS Service is in celeriac-dev/,
  },
  {
    what: "endpoint Service",
    check: kedaEndpoint,
    breakIt: (os) => (trigger(os).natsServerMonitoringEndpoint = "nats.celeriac-dev.svc.cluster.local:8222"),
    says: /Service nats is not headless/,
  },
  {
    what: "endpoint port",
    check: kedaEndpoint,
    breakIt: (os) => (trigger(os).natsServerMonitoringEndpoint = "nats-headless.celeriac-dev.svc.cluster.local:4223"),
    says: /has no port 4223/,
  },
  {
    what: "endpoint form",
    check: kedaEndpoint,
    breakIt: (os) => (trigger(os).natsServerMonitoringEndpoint = "http://nats-headless:8222"),
    says: /is not <service>/,
  },
  {
    what: "replicas without routes",
    check: natsCluster,
    breakIt: (os) => (nats(os).spec.replicas = 5),
    says: /routes .* should be .*nats-4/,
  },
  {
    what: "server name",
    check: natsCluster,
    breakIt: (os) => nats(os).spec.template.spec.containers[0].env.shift(),
    says: /server_name must be the pod name/,
  },
  {
    what: "lame duck",
    check: natsCluster,
    breakIt: (os) => delete nats(os).spec.template.spec.containers[0].lifecycle,
    says: /preStop must be nats-server --signal ldm/,
  },
  {
    what: "NATS grace",
    check: natsCluster,
    breakIt: (os) => (nats(os).spec.template.spec.terminationGracePeriodSeconds = 30),
    says: /≤ lame_duck_duration 30s/,
  },
  {
    what: "NATS probe",
    check: natsCluster,
    breakIt: (os) => (nats(os).spec.template.spec.containers[0].livenessProbe.httpGet.port = 4222),
    says: /livenessProbe must GET \/healthz on the monitor port/,
  },
  {
    what: "monitor port",
    check: natsCluster,
    breakIt: (os) => (nats(os).spec.template.spec.containers[0].ports[2].containerPort = 8333),
    says: /http port 8222 is not the container's monitor port 8333/,
  },
  {
    what: "Service selector",
    check: selectors,
    breakIt: (os) => (get(os, "Service/celeriac-monitor").spec.selector["app.kubernetes.io/component"] = "dashboard"),
    says: /Service\/celeriac-monitor: selects no pod/,
  },
  {
    what: "PDB selector",
    check: selectors,
    breakIt: (os) => (get(os, "PodDisruptionBudget/nats").spec.selector.matchLabels = { app: "nats" }),
    says: /PodDisruptionBudget\/nats: selects no pod/,
  },
  {
    what: "workload selector",
    check: selectors,
    breakIt: (os) => (get(os, "Deployment/celeriac-beat").spec.template.metadata.labels = {}),
    says: /celeriac-beat: selector does not match/,
  },
  {
    what: "root",
    check: podHardening,
    breakIt: (os) => (worker(os).securityContext.runAsNonRoot = false),
    says: /worker container worker: not runAsNonRoot/,
  },
  {
    what: "no memory limit",
    check: podHardening,
    breakIt: (os) => delete workerContainer(os).resources.limits,
    says: /needs cpu and memory requests and a memory limit/,
  },
  { what: "no /tmp", check: podHardening, breakIt: (os) => (workerContainer(os).volumeMounts = []), says: /no volume at \/tmp/ },
];

describe("k8s manifest checks notice a broken manifest", () => {
  it("every consistency check has breakages below", () => {
    const covered = new Set(BREAKAGES.map((b) => b.check));
    assert.deepEqual(Object.entries(CHECKS).filter(([, c]) => !covered.has(c)).map(([n]) => n), []);
  });

  for (const b of BREAKAGES) {
    it(`${b.check.name}: ${b.what}`, () => {
      const objects = devObjects();
      assert.deepEqual(b.check(objects), [], "passes before the breakage");
      b.breakIt(objects);
      const problems = b.check(objects);
      assert.ok(problems.some((p) => b.says.test(p)), `expected ${b.says}, got ${JSON.stringify(problems)}`);
    });
  }

  const schemaBreakages: [string, (os: K8sObject[]) => void, RegExp][] = [
    [
      "a misspelt container field",
      (os) => (workerContainer(os).livenesProbe = {}),
      /unknown field \/spec\/template\/spec\/containers\/0\/livenesProbe/,
    ],
    [
      "a field at the wrong level",
      (os) => (worker(os).terminationGracePeriod = 45),
      /unknown field \/spec\/template\/spec\/terminationGracePeriod/,
    ],
    ["a wrong type", (os) => (nats(os).spec.replicas = "3"), /replicas must be integer/],
    [
      "a bad enum",
      (os) => (workerContainer(os).imagePullPolicy = "Sometimes"),
      /imagePullPolicy must be equal to one of the allowed values/,
    ],
    ["a missing required field", (os) => delete nats(os).spec.selector, /must have required property selector/],
    ["a bad quantity", (os) => (workerContainer(os).resources.limits.memory = "512 MB"), /memory must match format "quantity"/],
    ["a bad apiVersion", (os) => (get(os, "PodDisruptionBudget/nats").apiVersion = "policy/v1beta2"), /no schema for policy\/v1beta2/],
    ["a number in KEDA trigger metadata", (os) => (trigger(os).lagThreshold = 32), /metadata\/lagThreshold must be a string/],
    ["a misspelt KEDA field", (os) => (get(os, "ScaledObject/celeriac-worker").spec.maxReplicas = 3), /unknown field \/spec\/maxReplicas/],
    [
      "a misspelt field inside the HPA behavior",
      (
        os,
      ) => (get(os, "ScaledObject/celeriac-worker").spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown
        .stabilisationWindowSeconds = 60),
      /unknown field \/scaleDown\/stabilisationWindowSeconds/,
    ],
  ];
  for (const [what, breakIt, says] of schemaBreakages) {
    it(`schemas: ${what}`, () => {
      const objects = devObjects();
      const b = { dir: path.join(K8S, "overlays", "dev"), objects, files: new Set<string>(), problems: [] };
      assert.deepEqual(schemaProblems(b), [], "passes before the breakage");
      breakIt(objects);
      const problems = schemaProblems(b);
      assert.ok(problems.some((p) => says.test(p)), `expected ${says}, got ${JSON.stringify(problems)}`);
    });
  }

  it("kustomize files: an unimplemented field, a bad patch op", () => {
    const k = { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", commonLabels: {} };
    assert.match(checkShape(KUSTOMIZATION, k, "k").join(), /unknown field \/commonLabels/);
    assert.match(checkShape(JSON_PATCH, [{ op: "merge", path: "/spec" }], "p").join(), /op must be one of add, replace, remove/);
    assert.match(applyOp({ spec: {} }, { op: "replace", path: "/spec/replicas", value: 1 }) ?? "", /no replicas to replace/);
    assert.match(applyOp({ spec: {} }, { op: "replace", path: "/spec/template/spec", value: 1 }) ?? "", /no template on the way/);
  });

  it("kustomize builds: a missing resource, a patch with no target, an unused file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "celeriac-k8s-"));
    try {
      const k = "resources: [gone.yaml]\npatches:\n  - path: p.yaml\n    target: {kind: Deployment, name: nobody}\n";
      writeFileSync(path.join(dir, "kustomization.yaml"), k);
      writeFileSync(path.join(dir, "p.yaml"), "- {op: remove, path: /spec}\n");
      writeFileSync(path.join(dir, "stray.yaml"), "a: 1\n");
      const b = build(dir);
      assert.match(b.problems.join("\n"), /resource gone.yaml does not exist/);
      assert.match(b.problems.join("\n"), /targets Deployment\/nobody, found 0/);
      assert.ok(!b.files.has(path.join(dir, "stray.yaml")), "a file no kustomization names is not counted as used");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
