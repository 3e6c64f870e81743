/**
 * The worker's slots and how they become pull credit, per queue.
 *
 * Invariant: running tasks + credit outstanding at the broker ≤ concurrency. A finished task's slot
 * is granted to the neediest queue that is not known to be idle: the one with the fewest
 * (running + credit). Each queue always keeps at least one unit of credit, so a live pull request
 * waits on every queue and new work on an idle queue is picked up at once. Credit a pull request
 * returns unused (it expired empty) marks its queue idle and flows to the others.
 */

/** How slots reach a queue's consumer. */
export interface CreditSink {
  grant(n: number): void;
}

interface QueueSlots {
  name: string;
  sink: CreditSink | null;
  running: number;
  credit: number;
  idle: boolean;
}

/** Slot accounting for one worker. */
export class SlotPool {
  #total: number;
  #queues = new Map<string, QueueSlots>();
  #free: number;
  #rr = 0;
  #closed = false;

  constructor(total: number, queues: string[]) {
    this.#total = total;
    this.#free = total;
    for (const q of queues) this.#queues.set(q, { name: q, sink: null, running: 0, credit: 0, idle: false });
  }

  /** Slots in use by running tasks. */
  get running(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.running;
    return n;
  }

  /** The pool size. */
  get total(): number {
    return this.#total;
  }

  /** Attaches a queue's consumer and gives it its fair share of the free slots. */
  attach(queue: string, sink: CreditSink): void {
    const q = this.#queues.get(queue);
    if (!q) throw new Error(`queue ${queue} is not part of this worker`);
    q.sink = sink;
    q.credit = 0;
    const attached = [...this.#queues.values()].filter((x) => x.sink).length;
    const share = Math.max(1, Math.floor(this.#free / Math.max(1, this.#queues.size - attached + 1)));
    this.#give(q, Math.min(share, this.#free));
  }

  /** Detaches a queue's consumer; its credit is forgotten (the consumer handed it back). */
  detach(queue: string): void {
    const q = this.#queues.get(queue);
    if (!q) return;
    this.#free += q.credit;
    q.credit = 0;
    q.sink = null;
  }

  /** A message arrived on `queue`: one credit became one running task. */
  delivered(queue: string): void {
    const q = this.#queues.get(queue);
    if (!q) return;
    if (q.credit > 0) q.credit--;
    else this.#free--; // delivered beyond credit (cannot normally happen); keep the books honest
    q.running++;
    q.idle = false;
  }

  /** A task of `queue` finished: its slot goes to the neediest queue. */
  finished(queue: string): void {
    const q = this.#queues.get(queue);
    if (!q) return;
    q.running--;
    this.#free++;
    this.#distribute();
  }

  /** A pull on `queue` came back with `n` credit unused: the queue is idle for now. */
  returned(queue: string, n: number): void {
    const q = this.#queues.get(queue);
    if (!q || n <= 0) return;
    q.credit -= n;
    this.#free += n;
    q.idle = true;
    this.#distribute();
  }

  /** Changes the pool size (pool-grow / pool-shrink). Shrinking takes effect as tasks finish. */
  resize(total: number): void {
    this.#free += total - this.#total;
    this.#total = total;
    this.#distribute();
  }

  /** No more grants (shutdown). */
  close(): void {
    this.#closed = true;
  }

  #give(q: QueueSlots, n: number): void {
    if (n <= 0 || !q.sink) return;
    this.#free -= n;
    q.credit += n;
    q.sink.grant(n);
  }

  #distribute(): void {
    if (this.#closed) return;
    const attached = [...this.#queues.values()].filter((q) => q.sink);
    if (attached.length === 0) return;
    // Every queue keeps one unit of credit first.
    for (const q of attached) if (q.credit === 0 && this.#free > 0) this.#give(q, 1);
    while (this.#free > 0) {
      const busy = attached.filter((q) => !q.idle);
      const pool = busy.length > 0 ? busy : attached;
      let best = pool[this.#rr++ % pool.length]!;
      for (const q of pool) if (q.running + q.credit < best.running + best.credit) best = q;
      this.#give(best, 1);
    }
  }
}
