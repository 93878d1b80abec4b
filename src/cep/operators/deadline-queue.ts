interface Entry {
  key: string;
  at: number;
}

/**
 * Per-key deadlines in a binary min-heap. Re-arming a key pushes a new entry and leaves the old
 * one to be skipped lazily when it surfaces; the heap is rebuilt when stale entries outnumber
 * live ones, so memory stays O(keys) however often keys are re-armed.
 */
export class DeadlineQueue {
  private heap: Entry[] = [];
  private readonly deadlines = new Map<string, number>();

  get size(): number {
    return this.deadlines.size;
  }

  set(key: string, at: number): void {
    this.deadlines.set(key, at);
    this.push({ key, at });
    if (this.heap.length > 2 * this.deadlines.size + 1024) this.rebuild();
  }

  delete(key: string): void {
    this.deadlines.delete(key);
  }

  /** The earliest live deadline, or undefined when no key is armed. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Removes and returns every key whose deadline is ≤ now, earliest first. */
  popDue(now: number): string[] {
    const due: string[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return due;
      this.pop();
      this.deadlines.delete(top.key);
      due.push(top.key);
    }
  }

  private dropStale(): void {
    for (let top = this.heap[0]; top && this.deadlines.get(top.key) !== top.at; top = this.heap[0]) this.pop();
  }

  private rebuild(): void {
    this.heap = [];
    for (const [key, at] of this.deadlines) this.push({ key, at });
  }

  private push(entry: Entry): void {
    const h = this.heap;
    h.push(entry);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= h[i]!.at) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (h.length === 0 || !last) return;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < h.length && h[l]!.at < h[smallest]!.at) smallest = l;
      if (r < h.length && h[r]!.at < h[smallest]!.at) smallest = r;
      if (smallest === i) return;
      [h[smallest], h[i]] = [h[i]!, h[smallest]!];
      i = smallest;
    }
  }
}
