/**
 * What a deployment may rely on: the health endpoints the worker serves, the environment it reads,
 * its shutdown grace period. Manifests (k8s/) are checked against this module, and the worker
 * command imports it, so the two cannot drift apart.
 */

/** HTTP paths served on `--health-port` (off unless the flag is given). */
export const HEALTH_PATHS = {
  /** 200 while the event loop and the supervisor run; stays 200 during a broker outage. */
  live: "/livez",
  /** 200 when connected to the broker and every queue's consumer is bound; 503 otherwise. */
  ready: "/readyz",
  /** Prometheus text format. */
  metrics: "/metrics",
} as const;

/** Environment variables the CLI and the app read. */
export const ENV = {
  BROKER_URL: "CELERIAC_BROKER_URL",
  RESULT_BACKEND: "CELERIAC_RESULT_BACKEND",
  NAME: "CELERIAC_NAME",
  /** OpenTelemetry: where the CLI exports traces (OTLP/HTTP); unset means no exporter. */
  OTEL_ENDPOINT: "OTEL_EXPORTER_OTLP_ENDPOINT",
  OTEL_TRACES_EXPORTER: "OTEL_TRACES_EXPORTER",
  OTEL_SERVICE_NAME: "OTEL_SERVICE_NAME",
} as const;

/** Seconds a warm shutdown waits for running tasks (`--grace`). */
export const DEFAULT_GRACE_SECONDS = 30;

/** Command-line flags a manifest may pass to `celeriac worker`. */
export const WORKER_FLAGS = [
  "--app", "-A", "--queues", "-Q", "--concurrency", "-c", "--pool", "-P", "--hostname", "-n",
  "--grace", "--events", "-E", "--beat", "-B", "--loglevel", "-l", "--health-port",
  "--broker", "--result-backend", "--name",
] as const;
