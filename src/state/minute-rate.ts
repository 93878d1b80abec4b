const SECONDS = 60;

/**
 * Arrivals over the last 60 complete seconds, counted per second in a ring: exact, O(1) per
 * arrival and per read, and steady while the arrival rate is. (Counting the current second too, or
 * weighting a previous bucket, makes a steady 1/s source read 59, 60, 61…, and every read a change
 * that OPC UA clients are notified of.) A count appears up to one second late.
 */
export class MinuteRate {
  private readonly ring = new Uint16Array(SECONDS);
  /** The second arrivals are counted in now (epoch seconds), not yet part of the sum. */
  private second: number;
  private current = 0;
  private sum = 0;

  constructor(now: number) {
    this.second = Math.floor(now / 1000);
  }

  add(now: number): void {
    this.roll(now);
    this.current++;
  }

  /** Arrivals in the last 60 complete seconds. */
  perMinute(now: number): number {
    this.roll(now);
    return this.sum;
  }

  private roll(now: number): void {
    const second = Math.floor(now / 1000);
    if (second <= this.second) return;
    this.close(this.second, Math.min(this.current, 0xffff));
    // Seconds with no arrival at all since then; a gap longer than the ring clears it.
    for (let s = this.second + 1, last = Math.min(second - 1, this.second + SECONDS); s <= last; s++) this.close(s, 0);
    this.second = second;
    this.current = 0;
  }

  private close(second: number, count: number): void {
    const slot = second % SECONDS;
    this.sum += count - this.ring[slot]!;
    this.ring[slot] = count;
  }
}
