/**
 * Errors carry a stable `code`; callers branch on it, never on the message.
 * A task's own failure crosses the wire as data and comes back as a {@link TaskError}.
 */

/** Stable error codes. */
export const ErrorCode = {
  CONFIG: "ERR_CONFIG",
  INVALID_ARGUMENT: "ERR_INVALID_ARGUMENT",
  TIMEOUT: "ERR_TIMEOUT",
  TASK_FAILED: "ERR_TASK_FAILED",
  TASK_REVOKED: "ERR_TASK_REVOKED",
  TASK_REJECTED: "ERR_TASK_REJECTED",
  NOT_REGISTERED: "ERR_NOT_REGISTERED",
  PROVISIONING: "ERR_PROVISIONING",
  PUBLISH: "ERR_PUBLISH",
  BACKEND: "ERR_BACKEND",
  DECODE: "ERR_DECODE",
  CLOSED: "ERR_CLOSED",
  RETRY: "ERR_RETRY",
  REJECT: "ERR_REJECT",
  MAX_RETRIES: "ERR_MAX_RETRIES_EXCEEDED",
  TIME_LIMIT: "ERR_TIME_LIMIT_EXCEEDED",
  SOFT_TIME_LIMIT: "ERR_SOFT_TIME_LIMIT_EXCEEDED",
  WORKER_LOST: "ERR_WORKER_LOST",
  KV_CONFLICT: "ERR_KV_CONFLICT",
  /** The broker or backend does not answer (not running, wrong host or port). */
  UNAVAILABLE: "ERR_UNAVAILABLE",
  /** The broker or backend refused our credentials. */
  AUTH: "ERR_AUTH",
  /** A TLS handshake or certificate check failed. */
  TLS: "ERR_TLS",
  /** A value cannot be encoded for the wire (too deep, a cycle, a RegExp). */
  ENCODE: "ERR_ENCODE",
} as const;

/** One of the stable error codes. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** Base class of every error celeriac throws. */
export class CeleriacError extends Error {
  override name = "CeleriacError";
  /** Stable code to branch on. */
  readonly code: ErrorCode;
  /** Whether trying the same operation again may succeed. */
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Misconfiguration: the message names the field and says what to fix. */
export class ConfigError extends CeleriacError {
  override name = "ConfigError";
  /** The option that is wrong, e.g. `concurrency` or `brokerUrl`. */
  readonly field: string;
  constructor(field: string, message: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.CONFIG, `${field}: ${message}`, options);
    this.field = field;
  }
}

/** An argument to a public function is invalid; the message names it. */
export class InvalidArgumentError extends CeleriacError {
  override name = "InvalidArgumentError";
  /** The argument that is wrong. */
  readonly argument: string;
  constructor(argument: string, message: string) {
    super(ErrorCode.INVALID_ARGUMENT, `${argument}: ${message}`);
    this.argument = argument;
  }
}

/** Waiting for something (a result, a reply) took longer than allowed. */
export class TimeoutError extends CeleriacError {
  override name = "TimeoutError";
  constructor(message: string) {
    super(ErrorCode.TIMEOUT, message, { retryable: true });
  }
}

/** The broker or backend refused or lost an operation; the message says what to do. */
export class BrokerError extends CeleriacError {
  override name = "BrokerError";
}

/** Streams or consumers exist with a configuration celeriac cannot use or update. */
export class ProvisioningError extends CeleriacError {
  override name = "ProvisioningError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.PROVISIONING, message, options);
  }
}

/** A message could not be decoded; `reason` is what goes into the dead-letter record. */
export class DecodeError extends CeleriacError {
  override name = "DecodeError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.DECODE, message, options);
  }
}

/** A value cannot be sent: receivers would refuse it (too deep, a cycle, a RegExp). */
export class EncodeError extends CeleriacError {
  override name = "EncodeError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.ENCODE, message, options);
  }
}

/** The app or worker was closed. */
export class ClosedError extends CeleriacError {
  override name = "ClosedError";
  constructor(what: string) {
    super(ErrorCode.CLOSED, `${what} is closed`);
  }
}

/** A compare-and-set on a key-value bucket lost: the key exists, or moved on since it was read. */
export class KvConflictError extends CeleriacError {
  override name = "KvConflictError";
  constructor(key: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.KV_CONFLICT, `key "${key}" changed or exists`, options);
  }
}

/** A task name no worker or app knows. */
export class NotRegisteredError extends CeleriacError {
  override name = "NotRegisteredError";
  constructor(taskName: string) {
    super(ErrorCode.NOT_REGISTERED, `task "${taskName}" is not registered`);
  }
}

/** The remote description of a task failure, as stored in the result record. */
export interface RemoteError {
  /** The error's class name on the worker (`TypeError`, `MyError`, ...). */
  type: string;
  /** Its message. */
  message: string;
  /** Its stack, as text. */
  traceback: string | null;
  /** The module/runtime it came from; `celeriac` for ours. */
  module?: string;
}

/**
 * A task ended in FAILURE (or was REVOKED/REJECTED) and `get({ propagate: true })` rethrows it.
 * `remoteType` is the class name raised in the task; branch on it (never `instanceof`).
 */
export class TaskError extends CeleriacError {
  override name = "TaskError";
  /** The task's id. */
  readonly taskId: string;
  /** The final state: FAILURE, REVOKED or REJECTED. */
  readonly state: string;
  /** The error's class name on the worker. */
  readonly remoteType: string;
  /** The error's message on the worker. */
  readonly remoteMessage: string;
  /** The worker-side stack trace. */
  readonly traceback: string | null;
  constructor(taskId: string, state: string, remote: RemoteError) {
    const code = state === "REVOKED" ? ErrorCode.TASK_REVOKED : state === "REJECTED" ? ErrorCode.TASK_REJECTED : ErrorCode.TASK_FAILED;
    super(code, `${remote.type}: ${remote.message}`);
    this.taskId = taskId;
    this.state = state;
    this.remoteType = remote.type;
    this.remoteMessage = remote.message;
    this.traceback = remote.traceback;
  }
}

/**
 * Thrown (as the return value of `ctx.retry()`) to ask the worker to run the task again.
 * The worker recognises it by `code`.
 */
export class Retry extends CeleriacError {
  override name = "Retry";
  /** Seconds to wait before the next attempt (0 = now). */
  readonly countdown: number | undefined;
  /** Absolute time of the next attempt, epoch ms. */
  readonly eta: number | undefined;
  /** The error that caused the retry, reported if retries run out. */
  readonly exc: unknown;
  /** Overrides the task's maxRetries for this call. */
  readonly maxRetries: number | null | undefined;
  constructor(opts: { countdown?: number; eta?: number; exc?: unknown; maxRetries?: number | null } = {}) {
    const why = opts.exc instanceof Error ? `: ${opts.exc.name}: ${opts.exc.message}` : "";
    super(ErrorCode.RETRY, `retry requested${why}`, { cause: opts.exc });
    this.countdown = opts.countdown;
    this.eta = opts.eta;
    this.exc = opts.exc;
    this.maxRetries = opts.maxRetries;
  }
}

/**
 * Thrown by a task to reject its message: it is not retried; with `requeue: false` (the default)
 * the message goes to the dead-letter stream and the state becomes REJECTED.
 */
export class Reject extends CeleriacError {
  override name = "Reject";
  /** Put the message back on the queue instead of dead-lettering it. */
  readonly requeue: boolean;
  constructor(reason: string, opts: { requeue?: boolean } = {}) {
    super(ErrorCode.REJECT, reason);
    this.requeue = opts.requeue ?? false;
  }
}

/** The task asked to retry more times than its `maxRetries` allow. */
export class MaxRetriesExceededError extends CeleriacError {
  override name = "MaxRetriesExceededError";
  constructor(taskName: string, taskId: string, maxRetries: number) {
    super(ErrorCode.MAX_RETRIES, `can't retry ${taskName}[${taskId}]: max retries (${maxRetries}) exceeded`);
  }
}

/** The task ran past its hard time limit and was abandoned. */
export class TimeLimitExceeded extends CeleriacError {
  override name = "TimeLimitExceeded";
  constructor(seconds: number) {
    super(ErrorCode.TIME_LIMIT, `task exceeded its time limit of ${seconds}s`);
  }
}

/** The child process or thread running a task died before the task finished (Celery's name). */
export class WorkerLostError extends CeleriacError {
  override name = "WorkerLostError";
  constructor(message: string) {
    super(ErrorCode.WORKER_LOST, message);
  }
}

/** Delivered to a task's `ctx.signal` when it is revoked with `terminate`. */
export class TaskRevokedError extends CeleriacError {
  override name = "TaskRevokedError";
  /** The revoked task's id. */
  readonly taskId: string;
  constructor(taskId: string, reason: string) {
    super(ErrorCode.TASK_REVOKED, `task ${taskId} was revoked (${reason})`);
    this.taskId = taskId;
  }
}

/** Delivered to a task's `ctx.signal` when its soft time limit passes. */
export class SoftTimeLimitExceeded extends CeleriacError {
  override name = "SoftTimeLimitExceeded";
  constructor(seconds: number) {
    super(ErrorCode.SOFT_TIME_LIMIT, `task exceeded its soft time limit of ${seconds}s`);
  }
}

/** True if `err` is a celeriac error with `code`. Works across module copies (no `instanceof`). */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** Describes any thrown value as a {@link RemoteError}. */
export function describeError(err: unknown): RemoteError {
  if (err instanceof Error) {
    return { type: err.name || err.constructor?.name || "Error", message: err.message, traceback: err.stack ?? null };
  }
  return { type: typeof err === "string" ? "Error" : typeof err, message: String(err), traceback: null };
}
