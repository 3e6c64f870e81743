/**
 * Applying a signature: publishing what must run now and embedding what runs later, so the worker
 * — not the client — moves a canvas forward. The client and the worker share this code.
 *
 * - chain: the first step is published with the rest in `embed.chain`; each worker publishes the
 *   next step with its result appended. A group followed by a step becomes a chord.
 * - group: every member is published with the group id and its index. A group whose results are
 *   awaited as one becomes a chord's header: with callbacks (`group.link`) the body is the callback;
 *   as a chain step the body is the next step; as a member of an outer chord (or with both callbacks
 *   and a next step) the body is `celery.accumulate` (id `<groupId>:accumulate`), whose result is the
 *   list and which carries the callbacks, the chain's rest and the outer membership.
 * - chord: every header member is published with the group id, its index, the header size and the
 *   body in `embed.chord`; whichever member completes the join publishes the body. Nested groups in
 *   a header are flattened (unless they have callbacks); a chain member hands its membership to its
 *   last step; a chord member hands it to its body.
 *
 * Every id (each step, each member, the body) is assigned when the canvas is applied, so the client
 * holds handles on results that do not exist yet, and a worker that publishes a step twice (after a
 * crash) publishes the same id, which JetStream drops as a duplicate.
 */
import type { ApplyOptions, Producer } from "../producer.ts";
import type { SignatureData } from "../protocol/message.ts";
import { InvalidArgumentError } from "../errors.ts";
import { type ChainStore, compactChain, takeNext } from "./chain-store.ts";
import { bodyOf, chordData, fixedId, headerOf, normalizeChain, tasksOf } from "./nodes.ts";

/** A task's place in a group or chord. */
export interface Membership {
  group: string;
  groupIndex: number;
  /** Set for chord header members: the header's size and the body to publish when all joined. */
  chordSize?: number;
  chord?: SignatureData;
}

/** How one application is made. */
export interface ApplyContext {
  producer: Producer;
  /** Where long chains are stored; without it chains always travel inline. */
  chains?: ChainStore;
  /** Appended to a mutable signature's args (the previous result, or partial-application args). */
  args?: unknown[];
  /** Wire options merged over the signature's own. */
  options?: Record<string, unknown>;
  membership?: Membership;
  /** Steps to run after this one (a chain's rest). */
  chain?: SignatureData[];
  parentId?: string;
  rootId?: string;
  /** Where result notices go (the client that applied the canvas). */
  replyTo?: string;
  /** Published by a worker as a follow-up: mark it so a late duplicate is recognised. */
  once?: boolean;
}

/**
 * Group members, with nested groups flattened (a chord header's shape). A group's errbacks go to
 * each of its members, as when the group is applied on its own: the failing member calls them.
 */
function flattenGroup(sig: SignatureData): SignatureData[] {
  const errbacks = (sig.options.link_error as SignatureData[] | undefined) ?? [];
  return tasksOf(sig).flatMap((m) => {
    // A nested group with callbacks stays one member: its callbacks need its own results.
    const parts = m.subtask_type === "group" && !(m.options.link as unknown[] | undefined)?.length ? flattenGroup(m) : [m];
    if (errbacks.length) { for (const p of parts) addOption(p, "link_error", errbacks); }
    return parts;
  });
}

/** Calling options a compound signature passes on to the tasks it publishes now (set() on it). */
const CALL_OPTIONS = ["queue", "countdown", "eta", "expires", "priority", "headers", "ignore_result"] as const;

/**
 * A compound's own calling options, under those given when applying it: they go where applying
 * options go — a chain's first task (as in Celery), every member of a group, a chord's header.
 */
function withOwnOptions(sig: SignatureData, ctx: ApplyContext): ApplyContext {
  let own: Record<string, unknown> | undefined;
  for (const k of CALL_OPTIONS) if (sig.options[k] !== undefined) (own ??= {})[k] = sig.options[k];
  return own ? { ...ctx, options: { ...own, ...ctx.options } } : ctx;
}

/** Applies `sig` (ids already assigned). */
export async function applySignature(sig: SignatureData, ctx: ApplyContext): Promise<void> {
  switch (sig.subtask_type) {
    case "chain":
      return await applyChain(sig, withOwnOptions(sig, ctx));
    case "group":
      return await applyGroup(sig, withOwnOptions(sig, ctx));
    case "chord":
      return await applyChord(sig, withOwnOptions(sig, ctx));
    default:
      return await applyTask(sig, ctx);
  }
}

async function applyTask(sig: SignatureData, ctx: ApplyContext): Promise<void> {
  const o = { ...sig.options, ...ctx.options } as Record<string, unknown> & { link?: SignatureData[]; link_error?: SignatureData[] };
  const args = sig.immutable ? sig.args : [...sig.args, ...(ctx.args ?? [])];
  const m = ctx.membership;
  const options: ApplyOptions = {
    taskId: o.task_id as string | undefined,
    queue: o.queue as string | undefined,
    countdown: o.countdown as number | undefined,
    eta: o.eta as number | undefined,
    expires: o.expires as number | undefined,
    priority: o.priority as number | undefined,
    headers: o.headers as Record<string, string> | undefined,
    ignoreResult: o.ignore_result as boolean | undefined,
    kwargs: Object.keys(sig.kwargs).length > 0 ? sig.kwargs : undefined,
    link: o.link?.length ? o.link : undefined,
    linkError: o.link_error?.length ? o.link_error : undefined,
    chain: ctx.chain?.length ? ctx.chain : undefined,
    chord: m?.chord,
    chordSize: m?.chordSize,
    groupId: m?.group,
    groupIndex: m?.groupIndex,
    parentId: ctx.parentId,
    rootId: ctx.rootId,
    replyTo: (o.reply_to as string | undefined) ?? ctx.replyTo,
    once: ctx.once,
  };
  const msg = ctx.producer.build(sig.task, args, options);
  await ctx.producer.publish(msg);
}

async function applyChain(sig: SignatureData, ctx: ApplyContext): Promise<void> {
  const steps = normalizeChain(tasksOf(sig));
  if (steps.length === 0) throw new InvalidArgumentError("chain", "is empty");
  // The chain's own callbacks belong to its last step; its errbacks to every step (the failing one calls them).
  const errbacks = (sig.options.link_error as SignatureData[] | undefined) ?? [];
  const links = (sig.options.link as SignatureData[] | undefined) ?? [];
  if (errbacks.length) { for (const s of steps) addOption(s, "link_error", errbacks); }
  if (links.length) addOption(steps.at(-1)!, "link", links);
  if (ctx.replyTo) { for (const s of steps) setReplyTo(s, ctx.replyTo); }
  const [first, ...rest] = steps as [SignatureData, ...SignatureData[]];
  const chainRest = await compactChain([...rest, ...(ctx.chain ?? [])], ctx.chains);
  return await applySignature(first, { ...ctx, chain: chainRest });
}

async function applyGroup(sig: SignatureData, ctx: ApplyContext): Promise<void> {
  const gid = sig.options.group_id as string;
  const links = (sig.options.link as SignatureData[] | undefined) ?? [];
  // Callbacks get fixed ids, as a chord body does: two members completing the join at once publish them once.
  const callbacks = links.map((cb, i) => fixedId(cb, `${gid}:link:${i}`));
  const header: SignatureData = { ...sig, options: { ...sig.options } };
  delete header.options.link;
  const next = await takeNext(ctx.chain ?? [], ctx.chains);
  if (next && callbacks.length === 0) {
    // A chain step (`group | task`): the next step is the body of a chord over the group.
    return await applyChord(chordData(header, next.next), { ...ctx, chain: next.rest });
  }
  if (next || ctx.membership) {
    // Something waits for the group as one result (the rest of a chain, an outer chord): a chord over
    // it whose body, celery.accumulate, returns the results, runs the callbacks and carries on.
    const body = accumulateData(`${gid}:accumulate`, callbacks);
    return await applyChord(chordData(header, body), ctx);
  }
  if (callbacks.length > 0) {
    // group.link(cb): the callback runs once, after the whole group (a chord in all but name).
    return await applyChord(chordData(header, callbacks.length === 1 ? callbacks[0]! : groupData(callbacks, `${gid}:link`)), ctx);
  }
  const errbacks = (sig.options.link_error as SignatureData[] | undefined) ?? [];
  const members = tasksOf(sig);
  await Promise.all(members.map((member, i) => {
    if (errbacks.length) addOption(member, "link_error", errbacks);
    return applySignature(member, { ...ctx, chain: undefined, membership: { group: gid, groupIndex: i } });
  }));
}

async function applyChord(sig: SignatureData, ctx: ApplyContext): Promise<void> {
  const header = headerOf(sig);
  const body = structuredClone(bodyOf(sig));
  // The chord's own callbacks and errbacks are its body's (as in Celery): the body's result is the
  // chord's, and a header failure fails the body, which calls them with the body's id.
  for (const key of ["link", "link_error"] as const) {
    const own = sig.options[key] as SignatureData[] | undefined;
    if (own?.length) addOption(body, key, own);
  }
  if (ctx.replyTo) setReplyTo(body, ctx.replyTo);
  // What follows the chord (a chain's rest) and the chord's own place in an outer chord belong to the body.
  const bodyEmbed: BodyEmbed = { chain: ctx.chain, membership: ctx.membership };
  const members = flattenGroup(header);
  if (members.length === 0) {
    // An empty header: the body runs at once with [].
    return await applySignature(body, { ...ctx, args: [[]], chain: ctx.chain, membership: ctx.membership });
  }
  const gid = header.options.group_id as string;
  const chordBody = withEmbed(body, bodyEmbed);
  await Promise.all(members.map((member, i) =>
    applySignature(member, {
      ...ctx,
      chain: undefined,
      membership: { group: gid, groupIndex: i, chordSize: members.length, chord: chordBody },
    })
  ));
}

/** What a chord body carries to where it is applied later (by a worker). */
interface BodyEmbed {
  chain?: SignatureData[];
  membership?: Membership;
}

/** Stores a body's chain continuation and outer membership in its options (`chain`, `membership`). */
function withEmbed(body: SignatureData, embed: BodyEmbed): SignatureData {
  const b = structuredClone(body);
  if (embed.chain?.length) b.options.chain = embed.chain;
  if (embed.membership) b.options.membership = embed.membership;
  return b;
}

/** Reads what `withEmbed` stored, as the worker applies a chord body. */
export function bodyEmbedOf(body: SignatureData): { sig: SignatureData; chain?: SignatureData[]; membership?: Membership } {
  const sig = structuredClone(body);
  const chain = sig.options.chain as SignatureData[] | undefined;
  const membership = sig.options.membership as Membership | undefined;
  delete sig.options.chain;
  delete sig.options.membership;
  return { sig, chain, membership };
}

function addOption(sig: SignatureData, key: "link" | "link_error", sigs: SignatureData[]): void {
  if (sig.subtask_type === "chain") {
    const steps = tasksOf(sig);
    if (key === "link_error") steps.forEach((s) => addOption(s, key, sigs));
    else if (steps.length) addOption(steps.at(-1)!, key, sigs);
    return;
  }
  if (sig.subtask_type === "chord") return addOption(bodyOf(sig), key, sigs);
  sig.options[key] = [...((sig.options[key] as SignatureData[] | undefined) ?? []), ...sigs];
}

function setReplyTo(sig: SignatureData, replyTo: string): void {
  if (sig.subtask_type === "chain" || sig.subtask_type === "group") tasksOf(sig).forEach((s) => setReplyTo(s, replyTo));
  else if (sig.subtask_type === "chord") {
    setReplyTo(headerOf(sig), replyTo);
    setReplyTo(bodyOf(sig), replyTo);
  } else sig.options.reply_to ??= replyTo;
}

/** Celery's accumulate as a chord body: `index: 0` makes its result the header's results list. */
function accumulateData(id: string, callbacks: SignatureData[]): SignatureData {
  const options: Record<string, unknown> = { task_id: id };
  if (callbacks.length) options.link = callbacks;
  return { task: "celery.accumulate", args: [], kwargs: { index: 0 }, options, subtask_type: null, immutable: false };
}

function groupData(tasks: SignatureData[], groupId: string): SignatureData {
  return { task: "celery.group", args: [], kwargs: { tasks }, options: { group_id: groupId }, subtask_type: "group", immutable: false };
}
