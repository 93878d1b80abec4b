import type { Clock } from '../../core/clock.js';

/** A token bucket per key: `perSecond` refill, `burst` capacity; idle keys are forgotten. */
export class KeyedRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes `n` tokens for `key`; when there are not enough, takes none and says how long until there are. */
  take(key: string, n: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (n > this.burst) return { ok: false, retryAfterSeconds: Math.ceil((n - b.tokens) / this.perSecond) };
    if (b.tokens >= n) {
      b.tokens -= n;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((n - b.tokens) / this.perSecond)) };
  }
}
