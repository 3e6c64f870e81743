/**
 * Long chains: past {@link INLINE_CHAIN_STEPS} steps a chain keeps its steps in the result backend
 * and travels as a reference (a `chain_ref` stand-in), which the worker reads a step at a time.
 */
import type { SignatureData } from "../protocol/message.ts";
import { InvalidArgumentError } from "../errors.ts";
import { nodeOf } from "./nodes.ts";

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

/** The stand-in for stored chain steps `from`..`size-1`: `next_id` is the id of step `from`. */
function chainRef(id: string, from: number, size: number, nextId: string): SignatureData {
  return {
    task: "celery.chain-ref",
    args: [],
    kwargs: { id, from, size, next_id: nextId },
    options: {},
    subtask_type: "chain_ref",
    immutable: true,
  };
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
