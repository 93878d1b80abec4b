import type { SchedulerLike, Subscription } from 'rxjs';

/** The fields a per-key deadline keeps on the key's own entry, so re-arming it is a few writes. */
export interface Timed {
  key: string;
  /** Scheduler time the entry is due at; Infinity when not armed. */
  due: number;
  /** Arming order: entries due at the same time come out in the order they were armed. */
  order: number;
  /** Heap nodes that point at this entry (0 or 1; 2 for a while after a deadline moves earlier). */
  queued: number;
  /** Due time of the entry's earliest node, when known; Infinity otherwise. */
  queuedAt: number;
}

interface Node<E> {
  due: number;
  order: number;
  entry: E;
}

/** A fresh, unarmed entry's deadline fields. */
export const unarmed = (key: string): Timed => ({ key, due: Infinity, order: 0, queued: 0, queuedAt: Infinity });

/**
 * Per-key deadlines with one scheduled wake-up for all keys. Re-arming a key (absence does it on
 * every event) writes its entry and touches the heap only when the deadline moves earlier; the
 * node it had is re-queued at the entry's current deadline when it comes up. So the heap holds
 * at most about one node per key and an event costs O(1), where a Map kept in touch order costs a
 * delete and a re-insert (and, with 10k keys, regular rehashing). Entries come out in (due,
 * arming order), exactly as armed. With `passive`, nothing is scheduled: the heap only orders
 * entries (least recently touched first) for `peek`.
 */
export class Deadlines<E extends Timed> {
  private readonly heap: Node<E>[] = [];
  private seq = 0;
  private wakeup?: Subscription;
  private wakeAt = Infinity;
  private firing = false;

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly onDue: (entry: E, now: number) => void,
    private readonly passive = false,
  ) {}

  arm(entry: E, due: number): void {
    entry.due = due;
    entry.order = ++this.seq;
    // A node due no later than this re-queues the entry at its deadline when it comes up.
    if (due < entry.queuedAt) this.push(entry);
  }

  disarm(entry: E): void {
    entry.due = Infinity;
  }

  /** Takes over an entry armed under an earlier instance (rule hot swap). */
  adopt(entry: E): void {
    entry.queued = 0;
    entry.queuedAt = Infinity;
    if (entry.due !== Infinity) {
      entry.order = ++this.seq;
      this.push(entry);
    }
  }

  /** The armed entry due first (for `passive` use: the least recently touched). */
  peek(): E | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return undefined;
      if (this.current(top)) return top.entry;
      this.settle(this.pop());
    }
  }

  dispose(): void {
    this.wakeup?.unsubscribe();
    this.wakeup = undefined;
    this.wakeAt = Infinity;
  }

  private current(node: Node<E>): boolean {
    return node.order === node.entry.order && node.due === node.entry.due;
  }

  /** A node that came up: if stale, re-queue its entry at the entry's current deadline. */
  private settle(node: Node<E>): void {
    const entry = this.unqueue(node);
    if (entry.queued === 0 && entry.due !== Infinity) this.push(entry);
  }

  private unqueue(node: Node<E>): E {
    const entry = node.entry;
    entry.queued--;
    // With another node left, its due time is not known here; Infinity makes the next arm push.
    if (entry.queued === 0 || node.due === entry.queuedAt) entry.queuedAt = Infinity;
    return entry;
  }

  private push(entry: E): void {
    entry.queued++;
    entry.queuedAt = entry.due;
    const heap = this.heap;
    const node: Node<E> = { due: entry.due, order: entry.order, entry };
    let i = heap.push(node) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.due < node.due || (p.due === node.due && p.order < node.order)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = node;
    if (!this.passive && !this.firing && node.due < this.wakeAt) this.schedule(node.due);
  }

  private pop(): Node<E> {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        let c = l;
        if (r < heap.length) {
          const a = heap[l]!;
          const b = heap[r]!;
          if (b.due < a.due || (b.due === a.due && b.order < a.order)) c = r;
        }
        const child = heap[c]!;
        if (last.due < child.due || (last.due === child.due && last.order < child.order)) break;
        heap[i] = child;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }

  private schedule(at: number): void {
    this.wakeup?.unsubscribe();
    this.wakeAt = at;
    this.wakeup = this.scheduler.schedule(() => this.fire(), Math.max(0, at - this.scheduler.now()));
  }

  private fire(): void {
    this.wakeup = undefined;
    this.wakeAt = Infinity;
    this.firing = true;
    const now = this.scheduler.now();
    try {
      this.due(now);
    } finally {
      this.firing = false;
      const next = this.heap[0];
      if (next !== undefined) this.schedule(next.due);
    }
  }

  private due(now: number): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.due > now) break;
      const node = this.pop();
      if (!this.current(node)) {
        this.settle(node);
        continue;
      }
      const entry = this.unqueue(node);
      entry.due = Infinity;
      this.onDue(entry, now);
    }
  }
}
