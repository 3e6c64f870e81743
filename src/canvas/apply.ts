/**
 * Applying a signature: publishing what must run now and embedding what runs later, so the worker
 * — not the client — moves a canvas forward. The client and the worker share this code.
 *
 * - chain: the first step is published with the rest in `embed.chain`; each worker publishes the
 *   next step with its result appended. A group followed by a step becomes a chord.
 * - group: every member is published with the group id and its index.
 * - chord: every header member is published with the group id, its index, the header size and the
 *   body in `embed.chord`; whichever member completes the join publishes the body. Nested groups in
 *   a header are flattened; a chain member hands its membership to its last step; a chord member
 *   hands it to its body.
 *
 * Every id (each step, each member, the body) is assigned when the canvas is applied, so the client
 * holds handles on results that do not exist yet, and a worker that publishes a step twice (after a
 * crash) publishes the same id, which JetStream drops as a duplicate.
 */
import type { ApplyOptions, Producer } from "../producer.ts";
import type { SignatureData } from "../protocol/message.ts";
import { InvalidArgumentError } from "../errors.ts";

/** What a result handle is made of: a task, or a group of them; `parent` for chains. */
export type ResultNode =
  | { kind: "task"; id: string; parent?: ResultNode }
  | { kind: "group"; id: string; members: ResultNode[]; parent?: ResultNode };

/** A task's place in a group or chord. */
export interface Membership {
  group: string;
  groupIndex: number;
  /** Set for chord header members: the header's size and the body to publish when all joined. */
  chordSize?: number;
  chord?: SignatureData;
}

/** Where long chains keep their steps (the result backend). */
export interface ChainStore {
  chainSave(steps: unknown[]): Promise<string>;
  chainLoad(id: string, from: number, count: number): Promise<unknown[]>;
}

/**
 * A chain longer than this keeps its steps in the result backend and travels as a reference:
 * otherwise every message carries the rest of the chain, and a chain of n steps moves O(n²) bytes
 * (and, past a few thousand steps, one message would exceed NATS's payload limit).
 */
export const INLINE_CHAIN_STEPS = 8;

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

const uuid = () => crypto.randomUUID();

/** Assigns every id a canvas needs, in place (task ids, group ids, bodies). */
export function ensureIds(sig: SignatureData): void {
  switch (sig.subtask_type) {
    case "chain":
      for (const s of tasksOf(sig)) ensureIds(s);
      return;
    case "group":
      sig.options.group_id ??= uuid();
      for (const s of tasksOf(sig)) ensureIds(s);
      return;
    case "chord":
      ensureIds(headerOf(sig));
      ensureIds(bodyOf(sig));
      return;
    default:
      sig.options.task_id ??= uuid();
  }
}

/** The handle structure of a canvas whose ids are assigned. */
export function nodeOf(sig: SignatureData): ResultNode {
  switch (sig.subtask_type) {
    case "chain": {
      let node: ResultNode | undefined;
      for (const s of normalizeChain(tasksOf(sig))) {
        const n = nodeOf(s);
        if (node) n.parent = node;
        node = n;
      }
      if (!node) throw new InvalidArgumentError("chain", "is empty");
      return node;
    }
    case "group":
      return { kind: "group", id: sig.options.group_id as string, members: tasksOf(sig).map(nodeOf) };
    case "chord": {
      const body = nodeOf(bodyOf(sig));
      body.parent = nodeOf(headerOf(sig));
      return body;
    }
    default:
      return { kind: "task", id: sig.options.task_id as string };
  }
}

export function tasksOf(sig: SignatureData): SignatureData[] {
  return ((sig.kwargs as { tasks?: SignatureData[] }).tasks ?? []);
}

function headerOf(sig: SignatureData): SignatureData {
  return (sig.kwargs as { header: SignatureData }).header;
}

function bodyOf(sig: SignatureData): SignatureData {
  return (sig.kwargs as { body: SignatureData }).body;
}

/** Flattens nested chains and turns "a group followed by a step" into a chord (as Celery does). */
export function normalizeChain(steps: SignatureData[]): SignatureData[] {
  const flat: SignatureData[] = [];
  for (const s of steps) {
    if (s.subtask_type === "chain") flat.push(...normalizeChain(tasksOf(s)));
    else flat.push(s);
  }
  const out: SignatureData[] = [];
  for (let i = 0; i < flat.length; i++) {
    const s = flat[i]!;
    const next = flat[i + 1];
    if (s.subtask_type === "group" && next) {
      out.push({ task: "celery.chord", args: [], kwargs: { header: s, body: next }, options: {}, subtask_type: "chord", immutable: false });
      i++;
    } else {
      out.push(s);
    }
  }
  return out;
}

/** Group members, with nested groups flattened (a chord header's shape). */
function flattenGroup(sig: SignatureData): SignatureData[] {
  return tasksOf(sig).flatMap((m) => (m.subtask_type === "group" ? flattenGroup(m) : [m]));
}

/** Applies `sig` (ids already assigned). */
export async function applySignature(sig: SignatureData, ctx: ApplyContext): Promise<void> {
  switch (sig.subtask_type) {
    case "chain":
      return await applyChain(sig, ctx);
    case "group":
      return await applyGroup(sig, ctx);
    case "chord":
      return await applyChord(sig, ctx);
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
  if (errbacks.length) for (const s of steps) addOption(s, "link_error", errbacks);
  if (links.length) addOption(steps.at(-1)!, "link", links);
  if (ctx.replyTo) for (const s of steps) setReplyTo(s, ctx.replyTo);
  const [first, ...rest] = steps as [SignatureData, ...SignatureData[]];
  const chainRest = await compactChain([...rest, ...(ctx.chain ?? [])], ctx.chains);
  if (first.subtask_type === "chord") return await applyChord(first, { ...ctx, chain: chainRest });
  if (first.subtask_type === "group" && chainRest.length === 0) return await applyGroup(first, ctx);
  return await applySignature(first, { ...ctx, chain: chainRest });
}

async function applyGroup(sig: SignatureData, ctx: ApplyContext): Promise<void> {
  const links = (sig.options.link as SignatureData[] | undefined) ?? [];
  if (links.length > 0) {
    // group.link(cb): the callback runs once, after the whole group (a chord in all but name).
    const body = links.length === 1 ? links[0]! : groupData(links);
    const headerOnly = { ...sig, options: { ...sig.options, link: undefined } };
    return await applyChord({ task: "celery.chord", args: [], kwargs: { header: headerOnly, body }, options: {}, subtask_type: "chord", immutable: false }, ctx);
  }
  const gid = sig.options.group_id as string;
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

function groupData(tasks: SignatureData[]): SignatureData {
  return { task: "celery.group", args: [], kwargs: { tasks }, options: { group_id: crypto.randomUUID() }, subtask_type: "group", immutable: false };
}

/** The stand-in for stored chain steps `from`..`size-1`: `next_id` is the id of step `from`. */
function chainRef(id: string, from: number, size: number, nextId: string): SignatureData {
  return { task: "celery.chain-ref", args: [], kwargs: { id, from, size, next_id: nextId }, options: {}, subtask_type: "chain_ref", immutable: true };
}

function refOf(sig: SignatureData | undefined): { id: string; from: number; size: number; next_id: string } | null {
  return sig?.subtask_type === "chain_ref" ? sig.kwargs as { id: string; from: number; size: number; next_id: string } : null;
}

/** The id a step's result will have (a chord's is its body's, a group's its group id). */
function nodeIdOf(sig: SignatureData): string {
  const n = nodeOf(sig);
  return n.id;
}

/** Stores a long chain's steps and returns a reference to them; short chains stay inline. */
export async function compactChain(steps: SignatureData[], chains: ChainStore | undefined): Promise<SignatureData[]> {
  if (!chains || steps.length <= INLINE_CHAIN_STEPS || steps.some((s) => refOf(s))) return steps;
  const id = await chains.chainSave(steps);
  return [chainRef(id, 0, steps.length, nodeIdOf(steps[0]!))];
}

/** The next step of a chain and what remains after it (reading stored steps when needed). */
export async function takeNext(
  chain: SignatureData[],
  chains: ChainStore | undefined,
): Promise<{ next: SignatureData; rest: SignatureData[] } | null> {
  const [head, ...tail] = chain;
  if (!head) return null;
  const ref = refOf(head);
  if (!ref) return { next: head, rest: tail };
  if (!chains) throw new InvalidArgumentError("chain", "refers to stored steps but no result backend is available");
  const [next, after] = await chains.chainLoad(ref.id, ref.from, 2) as SignatureData[];
  if (!next) throw new InvalidArgumentError("chain", `stored step ${ref.from} of chain ${ref.id} is gone (expired?)`);
  const rest = ref.from + 1 < ref.size && after ? [chainRef(ref.id, ref.from + 1, ref.size, nodeIdOf(after)), ...tail] : tail;
  return { next, rest };
}

/** Every remaining step, stored ones included (to fail them when the chain breaks). */
export async function expandChain(chain: SignatureData[], chains: ChainStore | undefined): Promise<SignatureData[]> {
  const out: SignatureData[] = [];
  for (const step of chain) {
    const ref = refOf(step);
    if (!ref) out.push(step);
    else if (chains) out.push(...await chains.chainLoad(ref.id, ref.from, ref.size - ref.from) as SignatureData[]);
  }
  return out;
}

/** The id of a chain's next step, without reading stored steps. */
export function nextStepId(chain: SignatureData[] | null | undefined): string | null {
  const head = chain?.[0];
  if (!head) return null;
  const ref = refOf(head);
  if (ref) return ref.next_id;
  const n = nodeOf(head);
  return n.kind === "task" ? n.id : null;
}
