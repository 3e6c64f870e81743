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
export type { ApplyArgs, BoundHandler, PlainHandler } from "./task.ts";
export { Client } from "./client.ts";
export type { ArgsOf, RemoteTask, ResultOfTask, TasksOf } from "./client.ts";
export type {
  Accepts,
  CannotTake,
  ChainArgs,
  ChainNeedsAStep,
  ChainSteps,
  ChordBody,
  Drop,
  GroupResults,
  IsSendable,
  LastResult,
  MapItem,
  ResultOf,
  Sendable,
  SendableHandler,
  SignatureTypes,
  TakesOf,
  Typed,
} from "./typing.ts";
export type { ErrorMatcher, TaskHooks, TaskOptions } from "./task-options.ts";
export { Signal } from "./signals.ts";
export type { PublishSignal, SignalHandler, SignalPayloads } from "./signals.ts";
export type { ApplyOptions, Deduplication, Linkable } from "./apply-options.ts";
export type { BulkCall } from "./bulk.ts";
export { AsyncResult } from "./result.ts";
export { Signature } from "./canvas/signature.ts";
export type { SetOptions, SignatureOptions } from "./canvas/signature.ts";
export { Chain, chain, Chord, chord, Group, group } from "./canvas/compose.ts";
export type { HeaderResults } from "./canvas/compose.ts";
export { GroupResult } from "./canvas/group-result.ts";
export type { ResultHandle } from "./canvas/group-result.ts";
export type { GetOptions, ProgressOptions } from "./result.ts";
export type { ProgressListener } from "./result-hub.ts";
export type { RetryOptions, TaskContext } from "./context.ts";
export { isProgressState, PROGRESS_STATE, READY_STATES, State } from "./states.ts";
export type { TaskState } from "./states.ts";
export { Worker, WorkerState } from "./worker/worker.ts";
export type { StopOptions, TaskEvent, WorkerEvents } from "./worker/worker.ts";
export { Pool } from "./worker/options.ts";
export { isPoolChild } from "./runtime/children.ts";
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
  WorkerLostError,
} from "./errors.ts";
export type { RemoteError } from "./errors.ts";
export { crontab, every } from "./schedule/schedules.ts";
export type { Schedule } from "./schedule/schedules.ts";
export { Beat } from "./schedule/beat.ts";
export type { BeatEvents, BeatFire } from "./schedule/beat.ts";
export type { BeatEntry, BeatOptions, MissedPolicy } from "./schedule/entry.ts";
export { createLogger, parseLogLevel, silentLogger } from "./log.ts";
export type { LogFields, Logger, LogLevelName } from "./log.ts";
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
