/**
 * celeriac: Celery for TypeScript — a distributed task queue on NATS JetStream and Redis.
 * Every public symbol is exported here by name.
 */
export { Celeriac } from "./app.ts";
export type { BrokerOptions, CeleriacOptions, TaskRoutes, TracingOptions } from "./options.ts";
export type { BackendOptions, NatsAuth, SigningOptions, TlsFiles } from "./security/options.ts";
export type { RedisHaOptions } from "./backend/redis-options.ts";
export type { SentinelOptions } from "./backend/redis-target.ts";
export { Task } from "./task.ts";
export type { BoundHandler, PlainHandler } from "./task.ts";
export type { ErrorMatcher, TaskOptions } from "./task-options.ts";
export type { ApplyOptions, Linkable } from "./producer.ts";
export { AsyncResult } from "./result.ts";
export { Signature } from "./canvas/signature.ts";
export type { SetOptions, SignatureOptions } from "./canvas/signature.ts";
export { Chain, chain, Chord, chord, Group, group } from "./canvas/compose.ts";
export { GroupResult } from "./canvas/group-result.ts";
export type { ResultHandle } from "./canvas/group-result.ts";
export type { GetOptions } from "./result.ts";
export type { RetryOptions, TaskContext } from "./context.ts";
export { READY_STATES, State } from "./states.ts";
export type { TaskState } from "./states.ts";
export { Worker, WorkerState } from "./worker/worker.ts";
export type { StopOptions, TaskEvent, WorkerEvents } from "./worker/worker.ts";
export { Pool } from "./worker/options.ts";
export type { WorkerOptions } from "./worker/options.ts";
export {
  CeleriacError,
  ClosedError,
  ConfigError,
  DecodeError,
  EncodeError,
  ErrorCode,
  InvalidArgumentError,
  KvConflictError,
  MaxRetriesExceededError,
  NotRegisteredError,
  ProvisioningError,
  Reject,
  Retry,
  SoftTimeLimitExceeded,
  TaskError,
  TaskRevokedError,
  TimeLimitExceeded,
  TimeoutError,
} from "./errors.ts";
export type { RemoteError } from "./errors.ts";
export { crontab, every } from "./schedule/schedules.ts";
export type { Schedule } from "./schedule/schedules.ts";
export { Beat } from "./schedule/beat.ts";
export type { BeatEntry, BeatEvents, BeatFire, BeatOptions, MissedPolicy } from "./schedule/beat.ts";
export { createLogger, parseLogLevel, silentLogger } from "./log.ts";
export type { Logger, LogLevelName } from "./log.ts";
export type { ResultRecord } from "./protocol/result.ts";
export { Control } from "./control/client.ts";
export type { BroadcastOptions, Replies } from "./control/client.ts";
export { ControlCommand } from "./control/protocol.ts";
export type { TaskInfo } from "./control/protocol.ts";
export { judge, MISSED_HEARTBEATS_OFFLINE, workerStatus } from "./control/status.ts";
export type { WorkerStatus } from "./control/status.ts";
export type { WorkerRecord } from "./worker/heartbeat.ts";
export { decodeEvent, TaskEventType, WorkerEventType } from "./events/event.ts";
export type { CeleriacEvent } from "./events/event.ts";
export { recentEvents, watchEvents } from "./events/receiver.ts";
export { formatTraceparent, parseTraceparent, TRACER_NAME } from "./tracing.ts";
