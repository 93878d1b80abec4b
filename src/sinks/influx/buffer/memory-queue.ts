import { FullEpisode } from './full-episode.js';
import type { PointBatch, PointStore, StoreDepth, StoreEvents } from './point-store.js';

/**
 * The store when the disk buffer is off: points in memory, the oldest dropped beyond `maxPoints`.
 * Nothing survives a restart; `durable()` resolves at once.
 */
export class MemoryQueue implements PointStore {
  private lines: string[] = [];
  private head = 0;
  /** Points dropped or committed since start: positions stay valid while the array is compacted. */
  private base = 0;
  private bytes = 0;
  private readonly episode: FullEpisode;

  constructor(
    private readonly maxPoints: number,
    private readonly events: StoreEvents,
  ) {
    this.episode = new FullEpisode(events);
  }

  async open(): Promise<void> {}

  append(line: string): boolean {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.lines.length - this.head > this.maxPoints) {
      this.dropHead(1);
      this.episode.drop(1, 'drop-oldest');
    }
    this.events.readable();
    return true;
  }

  hasRoom(): boolean {
    return true;
  }

  async durable(): Promise<void> {}

  async read(max: number): Promise<PointBatch | undefined> {
    if (this.head >= this.lines.length) return undefined;
    const lines = this.lines.slice(this.head, this.head + max);
    const offset = this.base + this.head;
    return { lines, from: { segment: 0, offset }, to: { segment: 0, offset: offset + lines.length } };
  }

  commit(batch: PointBatch): void {
    const done = batch.to.offset - (this.base + this.head);
    if (done > 0) this.dropHead(done);
    this.episode.settle(this.lines.length - this.head, this.maxPoints);
  }

  depth(): StoreDepth {
    return { points: this.lines.length - this.head, bytes: this.bytes };
  }

  async close(): Promise<void> {}

  private dropHead(n: number): void {
    for (let i = this.head; i < this.head + n; i++) this.bytes -= this.lines[i]?.length ?? 0;
    this.head += n;
    // Compact now and then so the array does not grow with everything ever appended.
    if (this.head > 4096 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
