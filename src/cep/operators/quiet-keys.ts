import type { SchedulerLike, Subscription } from 'rxjs';

/**
 * Last-seen time (and a value) per key, in a Map kept in insertion order: touching a key moves
 * it to the end, so the first entry is always the least recently seen. With a timeout, one
 * scheduled wake-up for that first entry reports every key quiet for `timeoutMs`, never a timer
 * per key. Scheduler time never goes back, so the order is also the order of the deadlines.
 */
export type Seen<V> = Map<string, { value: V; at: number }>;

export class QuietKeys<V> {
  private wakeup?: Subscription;

  /** `seen` may be handed over from an earlier instance (rule hot swap); its deadlines are re-armed. */
  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly timeoutMs: number | undefined,
    private readonly onQuiet: (key: string, value: V, lastSeenAt: number) => void,
    private readonly seen: Seen<V> = new Map(),
  ) {
    this.arm();
  }

  get size(): number {
    return this.seen.size;
  }

  /** Records the key as seen now; returns whether it was already known. */
  touch(key: string, value: V): boolean {
    // Re-inserting moves the key to the end; the entry object is reused, since this runs per event.
    const entry = this.seen.get(key);
    const known = entry !== undefined;
    if (known) {
      this.seen.delete(key);
      entry.value = value;
      entry.at = this.scheduler.now();
      this.seen.set(key, entry);
    } else this.seen.set(key, { value, at: this.scheduler.now() });
    this.arm();
    return known;
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  forget(key: string): void {
    this.seen.delete(key);
  }

  /** The least recently seen key. */
  oldest(): string | undefined {
    const first = this.seen.keys().next();
    return first.done ? undefined : first.value;
  }

  /** Hands every entry, least recently seen first, to `each` and forgets them. */
  drain(each: (value: V, key: string) => void): void {
    const entries = [...this.seen];
    this.seen.clear();
    for (const [key, { value }] of entries) each(value, key);
  }

  dispose(): void {
    this.wakeup?.unsubscribe();
    this.wakeup = undefined;
  }

  private arm(): void {
    if (this.wakeup || this.timeoutMs === undefined) return;
    const first = this.seen.values().next();
    if (first.done) return;
    this.wakeup = this.scheduler.schedule(() => this.fire(), Math.max(0, first.value.at + this.timeoutMs - this.scheduler.now()));
  }

  private fire(): void {
    this.wakeup = undefined;
    const now = this.scheduler.now();
    for (const [key, { value, at }] of this.seen) {
      if (at + (this.timeoutMs ?? 0) > now) break;
      this.seen.delete(key);
      this.onQuiet(key, value, at);
    }
    this.arm();
  }
}
