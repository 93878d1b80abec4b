import type { StorePosition } from './point-store.js';

/**
 * The newest records of the write-ahead log as lines, up to a bound in bytes: while InfluxDB keeps
 * up, the forwarder's read finds its points here and the log is only written, never read back.
 * It holds one contiguous run of records that ends where the last write ended; a write that does
 * not continue the run (a new segment), or would overflow the bound, starts a new run. A reader
 * behind the run reads the file until it reaches it.
 */
export class TailCache {
  private segment = -1;
  /** Offset where the record before `lines[head]` ends (where `lines[head]` starts). */
  private start = 0;
  private lines: string[] = [];
  /** End offset of each record in `lines`. */
  private ends: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Records written at `offset` of `segment`, with the byte length of each on disk. */
  wrote(segment: number, offset: number, lines: string[], lengths: number[]): void {
    const end = this.head < this.ends.length ? this.ends[this.ends.length - 1]! : this.start;
    let added = 0;
    for (const line of lines) added += line.length;
    if (segment !== this.segment || offset !== end || this.bytes + added > this.maxBytes) this.restart(segment, offset);
    let at = offset;
    for (let i = 0; i < lines.length; i++) {
      at += lengths[i]!;
      this.lines.push(lines[i]!);
      this.ends.push(at);
    }
    this.bytes += added;
  }

  /** Up to `max` lines from `from` on, and where they end; undefined when `from` is not a record boundary of the run. */
  read(from: StorePosition, max: number): { lines: string[]; to: StorePosition } | undefined {
    if (from.segment !== this.segment) return undefined;
    const i = this.indexAt(from.offset);
    if (i === undefined || i >= this.ends.length) return undefined;
    const n = Math.min(max, this.ends.length - i);
    return { lines: this.lines.slice(i, i + n), to: { segment: this.segment, offset: this.ends[i + n - 1]! } };
  }

  /** Everything before `cursor` has been sent: it leaves the cache. */
  committed(cursor: StorePosition): void {
    if (cursor.segment !== this.segment) {
      if (cursor.segment > this.segment) this.restart(cursor.segment, cursor.offset);
      return;
    }
    while (this.head < this.ends.length && this.ends[this.head]! <= cursor.offset) {
      this.bytes -= this.lines[this.head]!.length;
      this.start = this.ends[this.head]!;
      this.head++;
    }
    // Compacted now and then rather than shifted per record.
    if (this.head > 1024 && this.head * 2 > this.ends.length) {
      this.lines = this.lines.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
  }

  /** The record index that starts at `offset`, if one of the run does. */
  private indexAt(offset: number): number | undefined {
    if (offset === this.start) return this.head;
    let lo = this.head;
    let hi = this.ends.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const end = this.ends[mid]!;
      if (end === offset) return mid + 1;
      if (end < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  private restart(segment: number, offset: number): void {
    this.segment = segment;
    this.start = offset;
    this.lines = [];
    this.ends = [];
    this.head = 0;
    this.bytes = 0;
  }
}
