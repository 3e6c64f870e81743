/**
 * What runs after a task: its callbacks, the next step of its chain, its chord's body; or, when it
 * failed, its errbacks, the failure of the rest of its chain, and of its chord.
 *
 * Every follow-up is idempotent, because a crash between storing a result and acking the message
 * makes a worker do this again (the "skip" path replays it from the stored result):
 * - follow-ups have fixed ids (chain steps and chord bodies got theirs when the canvas was applied;
 *   callbacks and errbacks get `<id>:link:<i>` / `<id>:errback:<i>`), so a repeat is dropped by
 *   JetStream's dedup, and they carry the `celeriac-once` header so that a repeat after the dedup
 *   window is recognised by its existing result;
 * - a chord join is a hash field per member (a member joining twice counts once), and the chord
 *   fails once (HSETNX): the body runs once, errbacks run once.
 */
import type { Broker } from "../broker/types.ts";
import type { ResultBackend } from "../backend/types.ts";
import type { Producer } from "../producer.ts";
import type { TaskMessage } from "../protocol/message.ts";
import { exceptionInfo, isoNow, makeRecord } from "../protocol/result.ts";
import type { RemoteError } from "../errors.ts";
import { State } from "../states.ts";
import { applySignature, bodyEmbedOf, type Membership } from "../canvas/apply.ts";
import { expandChain, nextStepId, takeNext } from "../canvas/chain-store.ts";
import { errbacksOf, fixedId, leafIds, nodeOf, replyToOf } from "../canvas/nodes.ts";

/** What follow-ups need. The backend also keeps long chains' steps. */
export interface FollowUpDeps {
  producer: Producer;
  backend: ResultBackend;
  broker: Broker;
}

/** A task's place in a group or chord, from its message. */
export function membershipOf(m: TaskMessage): Membership | undefined {
  if (m.group === undefined || m.groupIndex === undefined) return undefined;
  return { group: m.group, groupIndex: m.groupIndex, chordSize: m.chordSize, chord: m.embed?.chord ?? undefined };
}

/** Ids of the tasks a success will send (for the record's `children`), in Celery's tuple form. */
export function successChildren(m: TaskMessage): unknown[] {
  const ids: string[] = [];
  (m.embed?.callbacks ?? []).forEach((cb, i) => {
    // A chain or chord callback's handle is its last task (a group's has no single id).
    const node = nodeOf(fixedId(cb, `${m.id}:link:${i}`));
    if (node.kind === "task") ids.push(node.id);
  });
  const next = nextStepId(m.embed?.chain);
  if (next) ids.push(next);
  return ids.map((id) => [[id, null], null]);
}

/** Sends what follows a success. */
export async function afterSuccess(m: TaskMessage, result: unknown, deps: FollowUpDeps): Promise<void> {
  const lineage = { parentId: m.id, rootId: m.rootId ?? m.id, once: true as const, producer: deps.producer, chains: deps.backend };
  const callbacks = m.embed?.callbacks ?? [];
  for (let i = 0; i < callbacks.length; i++) {
    await applySignature(fixedId(callbacks[i]!, `${m.id}:link:${i}`), { ...lineage, args: [result] });
  }
  const step = await takeNext(m.embed?.chain ?? [], deps.backend);
  if (step) {
    await applySignature(step.next, { ...lineage, args: [result], chain: step.rest, membership: membershipOf(m), replyTo: m.replyTo });
    return;
  }
  const mem = membershipOf(m);
  if (mem?.chord && mem.chordSize) {
    const joined = await deps.backend.chordJoin(mem.group, mem.groupIndex, mem.chordSize, result);
    if (joined.state !== "complete") return;
    const { sig, chain: bodyChain, membership } = bodyEmbedOf(mem.chord);
    await applySignature(sig, { ...lineage, args: [joined.results], chain: bodyChain, membership });
  }
}

/** Handles what follows a failure (or a revoke, or a rejection). */
export async function afterFailure(m: TaskMessage, error: RemoteError, deps: FollowUpDeps): Promise<void> {
  const lineage = { parentId: m.id, rootId: m.rootId ?? m.id, once: true as const, producer: deps.producer, chains: deps.backend };
  const errbacks = m.embed?.errbacks ?? [];
  const described = { type: error.type, message: error.message, traceback: error.traceback };
  for (let i = 0; i < errbacks.length; i++) {
    await applySignature(fixedId(errbacks[i]!, `${m.id}:errback:${i}`), { ...lineage, args: [m.id, described] });
  }
  // The rest of the chain will not run: its results say why (a chain's handle is its last task).
  for (const step of await expandChain(m.embed?.chain ?? [], deps.backend)) {
    for (const id of leafIds(nodeOf(step))) await failResult(id, error, replyToOf(step) ?? m.replyTo, deps);
  }
  const mem = membershipOf(m);
  if (mem?.chord) await failChord(mem, m.id, error, deps, lineage.rootId);
}

/**
 * The first failure of a chord fails its body (ChordError) — every task of it, when the body is a
 * chain or a group — runs the body's errbacks, fails what was to follow, and goes on up.
 */
async function failChord(mem: Membership, memberId: string, cause: RemoteError, deps: FollowUpDeps, rootId: string): Promise<void> {
  if (!mem.chord || !(await deps.backend.chordFail(mem.group, memberId))) return;
  const { sig: body, chain, membership } = bodyEmbedOf(mem.chord);
  const bodyNode = nodeOf(body);
  const err: RemoteError = {
    type: "ChordError",
    message: `Dependency ${memberId} raised ${cause.type}: ${cause.message}`,
    traceback: cause.traceback,
  };
  for (const id of leafIds(bodyNode)) await failResult(id, err, replyToOf(body), deps);
  const described = { type: err.type, message: err.message, traceback: err.traceback };
  const errbacks = errbacksOf(body);
  for (let i = 0; i < errbacks.length; i++) {
    const { id, errback } = errbacks[i]!;
    const lineage = { producer: deps.producer, chains: deps.backend, parentId: id, rootId, once: true as const };
    await applySignature(fixedId(errback, `${bodyNode.id}:errback:${i}`), { ...lineage, args: [id, described] });
  }
  for (const step of await expandChain(chain ?? [], deps.backend)) {
    for (const id of leafIds(nodeOf(step))) await failResult(id, err, replyToOf(step), deps);
  }
  // A chord in an outer chord's header: its failure fails the outer one too.
  if (membership?.chord) await failChord(membership, bodyNode.id, err, deps, rootId);
}

/** Stores FAILURE for a task that will never run, and tells its waiter. */
async function failResult(id: string, err: RemoteError, replyTo: string | undefined, deps: FollowUpDeps): Promise<void> {
  const rec = makeRecord(id, State.FAILURE, exceptionInfo(err), { traceback: err.traceback, date_done: isoNow() });
  const bytes = deps.backend.encode(rec);
  if ((await deps.backend.storeEncoded(id, State.FAILURE, bytes)) === "stored" && replyTo) deps.broker.notify(replyTo, bytes);
}
