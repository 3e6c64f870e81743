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
  /** Queues with a consumer attached, in attach order. */
  #attached: QueueSlots[] = [];

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

  /** Slots neither running a task nor granted as credit. */
  get free(): number {
    return this.#free;
  }

  /** The pool size. */
  get total(): number {
    return this.#total;
  }

  /** Adds a queue at runtime (`add-consumer`); attach its consumer next. */
  addQueue(queue: string): void {
    if (!this.#queues.has(queue)) this.#queues.set(queue, { name: queue, sink: null, running: 0, credit: 0, idle: false });
  }

  /** Attaches a queue's consumer and gives it its fair share of the free slots. */
  attach(queue: string, sink: CreditSink): void {
    const q = this.#queues.get(queue);
    if (!q) throw new Error(`queue ${queue} is not part of this worker`);
    q.sink = sink;
    q.credit = 0;
    if (!this.#attached.includes(q)) this.#attached.push(q);
    const attached = this.#attached.length;
    const share = Math.max(1, Math.floor(this.#free / Math.max(1, this.#queues.size - attached + 1)));
    // A queue added at runtime (add-consumer) may find every slot granted to the others' pulls,
    // which cannot be taken back: it borrows one unit (free goes to -1) so it pulls at once; the
    // books balance with the next finished task. At most one message over concurrency, once.
    this.#give(q, this.#free > 0 ? Math.min(share, this.#free) : 1);
  }

  /** Detaches a queue's consumer; its credit is forgotten (the consumer handed it back). */
  detach(queue: string): void {
    const q = this.#queues.get(queue);
    if (!q) return;
    this.#free += q.credit;
    q.credit = 0;
    q.sink = null;
    this.#attached = this.#attached.filter((x) => x !== q);
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
    const attached = this.#attached;
    if (attached.length === 0) return;
    if (attached.length === 1) {
      // The common case (one queue): everything free goes to it, no choice to make.
      this.#give(attached[0]!, this.#free);
      return;
    }
    // Every queue keeps one unit of credit first.
    for (const q of attached) if (q.credit === 0 && this.#free > 0) this.#give(q, 1);
    while (this.#free > 0) {
      let anyBusy = false;
      for (const q of attached) if (!q.idle) anyBusy = true;
      const start = this.#rr++ % attached.length;
      let best: QueueSlots | null = null;
      for (let i = 0; i < attached.length; i++) {
        const q = attached[(start + i) % attached.length]!;
        if (anyBusy && q.idle) continue;
        if (!best || q.running + q.credit < best.running + best.credit) best = q;
      }
      this.#give(best!, 1);
    }
  }
}
