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
  // Security (docs/security.md). Secrets as values (from a Secret's key) or as mounted files (_FILE,
  // _CREDS and the TLS paths); a group set here replaces the code's.
  NATS_USER: "CELERIAC_NATS_USER",
  NATS_PASSWORD: "CELERIAC_NATS_PASSWORD",
  NATS_TOKEN: "CELERIAC_NATS_TOKEN",
  NATS_NKEY_SEED: "CELERIAC_NATS_NKEY_SEED",
  NATS_NKEY_SEED_FILE: "CELERIAC_NATS_NKEY_SEED_FILE",
  /** Path of a NATS `.creds` file (user JWT + seed). */
  NATS_CREDS: "CELERIAC_NATS_CREDS",
  NATS_TLS_CA: "CELERIAC_NATS_TLS_CA",
  NATS_TLS_CERT: "CELERIAC_NATS_TLS_CERT",
  NATS_TLS_KEY: "CELERIAC_NATS_TLS_KEY",
  REDIS_USER: "CELERIAC_REDIS_USER",
  REDIS_PASSWORD: "CELERIAC_REDIS_PASSWORD",
  REDIS_TLS_CA: "CELERIAC_REDIS_TLS_CA",
  REDIS_TLS_CERT: "CELERIAC_REDIS_TLS_CERT",
  REDIS_TLS_KEY: "CELERIAC_REDIS_TLS_KEY",
  /** The sentinels' own credentials (redis+sentinel:// backends; the master's are REDIS_USER / _PASSWORD). */
  REDIS_SENTINEL_USER: "CELERIAC_REDIS_SENTINEL_USER",
  REDIS_SENTINEL_PASSWORD: "CELERIAC_REDIS_SENTINEL_PASSWORD",
  /** Shared HMAC key (value), or its file. */
  SIGNING_KEY: "CELERIAC_SIGNING_KEY",
  SIGNING_KEY_FILE: "CELERIAC_SIGNING_KEY_FILE",
  SIGNING_PREVIOUS_KEYS: "CELERIAC_SIGNING_PREVIOUS_KEYS",
  /** Ed25519 nkey seed (value), or its file. */
  SIGNING_SEED: "CELERIAC_SIGNING_SEED",
  SIGNING_SEED_FILE: "CELERIAC_SIGNING_SEED_FILE",
  SIGNING_TRUSTED_KEYS: "CELERIAC_SIGNING_TRUSTED_KEYS",
  SIGNING_REQUIRE: "CELERIAC_SIGNING_REQUIRE",
  /** The monitor's `--basic-auth` (user:password[,user2:password2]). */
  MONITOR_BASIC_AUTH: "CELERIAC_MONITOR_BASIC_AUTH",
  /** A trace viewer link with `{traceId}` for the monitor's task pages. */
  MONITOR_TRACE_URL: "CELERIAC_MONITOR_TRACE_URL",
  /** OpenTelemetry: where the CLI exports traces (OTLP/HTTP); unset means no exporter. */
  OTEL_ENDPOINT: "OTEL_EXPORTER_OTLP_ENDPOINT",
  OTEL_TRACES_EXPORTER: "OTEL_TRACES_EXPORTER",
  OTEL_SERVICE_NAME: "OTEL_SERVICE_NAME",
} as const;

/** Seconds a warm shutdown waits for running tasks (`--grace`). */
export const DEFAULT_GRACE_SECONDS = 30;

/** Command-line flags a manifest may pass to `celeriac worker`. */
export const WORKER_FLAGS = [
  "--app",
  "-A",
  "--queues",
  "-Q",
  "--concurrency",
  "-c",
  "--pool",
  "-P",
  "--hostname",
  "-n",
  "--grace",
  "--events",
  "-E",
  "--beat",
  "-B",
  "--loglevel",
  "-l",
  "--health-port",
  "--broker",
  "--result-backend",
  "--name",
] as const;
