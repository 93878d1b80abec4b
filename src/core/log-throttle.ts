/** Says whether to log now: once per key per `everyMs`, with how many were held back since. */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(private readonly everyMs: number) {}

  take(key: string, now: number): { log: boolean; held: number } {
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.everyMs) {
      seen.held++;
      return { log: false, held: 0 };
    }
    if (this.last.size > 10_000) this.last.clear();
    this.last.set(key, { at: now, held: 0 });
    return { log: true, held: seen?.held ?? 0 };
  }
}
