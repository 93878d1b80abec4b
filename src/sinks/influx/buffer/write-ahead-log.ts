import { mkdir, open, truncate, unlink, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../../../core/logger.js';
import { encodeRecord, scanRecords } from './record.js';
import { FullEpisode } from './full-episode.js';
import { TailCache } from './tail-cache.js';
import type { FullPolicy, PointBatch, PointStore, StoreDepth, StoreEvents, StorePosition } from './point-store.js';
import { listSegments, readCursor, scanSegment, segmentPath, syncDirectory, writeCursor } from './segment-files.js';

export interface WalOptions {
  dir: string;
  /** A segment is closed and a new one started once it holds this many bytes. */
  segmentBytes: number;
  /** Disk the buffer may take, all segments together. */
  maxBytes: number;
  whenFull: FullPolicy;
  /** fsync after every write of appended points, or at most once per this many ms. */
  fsync: 'batch' | number;
}

interface Segment {
  id: number;
  /** Bytes of whole records in the file. */
  bytes: number;
  records: number;
}

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const CURSOR_SAVE_MS = 1000;
/** Lines of the newest records kept in memory for a reader that keeps up: a few batches' worth. */
const TAIL_CACHE_BYTES = 4 * 1024 * 1024;

/**
 * The InfluxDB sink's write-ahead log: points appended to segment files, fsynced in groups, read
 * back in order and deleted a segment at a time once InfluxDB has them. Memory holds only the
 * points appended since the last write and one read chunk, however long InfluxDB is away.
 */
export class WriteAheadLog implements PointStore {
  private segments: Segment[] = [];
  private writer?: FileHandle;
  private reader?: { id: number; fh: FileHandle };
  private pending: Buffer[] = [];
  /** The lines of `pending`, for the tail cache once they are written. */
  private pendingLines: string[] = [];
  private readonly tail = new TailCache(TAIL_CACHE_BYTES);
  private pendingBytes = 0;
  /** Records taken from `pending` by the write in progress. */
  private writing = { records: 0, bytes: 0 };
  /** Bytes of whole records in all segment files. */
  private diskBytes = 0;
  private appended = 0;
  private synced = 0;
  private waiters: Waiter[] = [];
  private flushing?: Promise<void>;
  private flushTimer?: NodeJS.Timeout;
  private cursor: StorePosition = { segment: 0, offset: 0 };
  /** Records of the cursor's segment before the cursor. */
  private cursorRecords = 0;
  private cursorTimer?: NodeJS.Timeout;
  private readonly episode: FullEpisode;
  private failure?: Error;
  private closed = false;

  constructor(
    private readonly options: WalOptions,
    private readonly events: StoreEvents,
    private readonly log: Logger,
  ) {
    this.episode = new FullEpisode(events);
  }

  async open(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    const saved = await readCursor(this.options.dir);
    const ids = await listSegments(this.options.dir);
    for (const id of ids) {
      const file = segmentPath(this.options.dir, id);
      const probe = saved?.segment === id ? saved.offset : undefined;
      const scan = await scanSegment(file, probe);
      if (scan.validBytes < scan.fileBytes) {
        this.log.warn(
          { segment: file, skippedBytes: scan.fileBytes - scan.validBytes, reason: scan.stop, keptRecords: scan.records },
          'buffer segment ends in a torn or corrupt record; skipped it and everything after it in that segment',
        );
        await truncate(file, scan.validBytes);
      }
      if (scan.records === 0) await unlink(file);
      else {
        this.segments.push({ id, bytes: scan.validBytes, records: scan.records });
        this.diskBytes += scan.validBytes;
      }
      if (probe !== undefined && scan.recordsAtProbe !== undefined && scan.records > 0) {
        this.cursor = { segment: id, offset: probe };
        this.cursorRecords = scan.recordsAtProbe;
      }
    }
    const first = this.segments[0];
    // No usable cursor (first start, lost or off a record boundary): resend from the oldest point; writes are idempotent.
    if (first && !this.segments.some((s) => s.id === this.cursor.segment)) this.cursor = { segment: first.id, offset: 0 };
    await this.startSegment((ids.at(-1) ?? 0) + 1);
    if (this.options.fsync !== 'batch') this.flushTimer = setInterval(() => void this.flush(), this.options.fsync);
    const depth = this.depth();
    if (depth.points > 0) this.log.info({ points: depth.points, bytes: depth.bytes }, 'buffered points from the previous run will be sent');
  }

  append(line: string): boolean {
    if (this.failure || this.closed) {
      this.events.dropped(1, 'write-failed');
      return false;
    }
    const record = encodeRecord(line);
    if (!this.makeRoom(record.length)) return false;
    this.pending.push(record);
    this.pendingLines.push(line);
    this.pendingBytes += record.length;
    this.appended++;
    if (this.options.fsync === 'batch') this.flushing ??= this.writeLoop();
    return true;
  }

  hasRoom(): boolean {
    return this.options.whenFull === 'drop-oldest' || !this.episode.active;
  }

  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.synced >= this.appended) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ upTo: this.appended, resolve, reject }));
  }

  async read(max: number): Promise<PointBatch | undefined> {
    this.skipConsumed();
    const segment = this.segments.find((s) => s.id === this.cursor.segment);
    if (!segment || this.cursor.offset >= segment.bytes) return undefined;
    const from = { ...this.cursor };
    const cached = this.tail.read(from, max);
    if (cached) return { lines: cached.lines, from, to: cached.to };
    const fh = await this.readerFor(segment.id);
    let size = Math.min(segment.bytes - from.offset, Math.max(64 * 1024, max * 512));
    for (;;) {
      const chunk = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(chunk, 0, size, from.offset);
      const scan = scanRecords(chunk.subarray(0, bytesRead), max);
      if (scan.count > 0) {
        return { lines: scan.lines, from, to: { segment: segment.id, offset: from.offset + scan.consumed } };
      }
      if (scan.stop === 'partial' && scan.needed !== undefined && scan.needed > size) size = scan.needed;
      else throw new Error(`buffer segment ${segment.id} unreadable at ${from.offset} (${scan.stop ?? 'empty'})`);
    }
  }

  commit(batch: PointBatch): void {
    const c = this.cursor;
    // A batch from a segment the quota dropped while it was in flight: nothing left to advance.
    if (batch.from.segment !== c.segment || batch.from.offset !== c.offset) return;
    this.cursor = { ...batch.to };
    this.cursorRecords += batch.lines.length;
    this.skipConsumed();
    this.tail.committed(this.cursor);
    this.cursorTimer ??= setTimeout(() => void this.saveCursor(), CURSOR_SAVE_MS);
    this.episode.settle(this.totalBytes(), this.options.maxBytes);
  }

  depth(): StoreDepth {
    let points = this.pending.length + this.writing.records;
    let bytes = this.pendingBytes + this.writing.bytes;
    for (const s of this.segments) {
      if (s.id < this.cursor.segment) continue;
      points += s.records - (s.id === this.cursor.segment ? this.cursorRecords : 0);
      bytes += s.bytes - (s.id === this.cursor.segment ? this.cursor.offset : 0);
    }
    return { points, bytes };
  }

  /** Writes and syncs what is pending, saves the cursor and closes the files; the rest waits for the next open. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.flushTimer);
    await this.flush();
    this.closed = true;
    clearTimeout(this.cursorTimer);
    await this.saveCursor();
    await this.writer?.close();
    await this.reader?.fh.close();
    this.writer = this.reader = undefined;
  }

  /** Writes pending records and fsyncs them now. */
  flush(): Promise<void> {
    if (this.pending.length === 0) return this.flushing ?? Promise.resolve();
    this.flushing ??= this.writeLoop();
    return this.flushing;
  }

  private totalBytes(): number {
    return this.diskBytes + this.writing.bytes + this.pendingBytes;
  }

  /** Applies the full policy; false when the point is refused. */
  private makeRoom(needed: number): boolean {
    const limit = this.options.maxBytes;
    const refusing = this.options.whenFull === 'refuse-newest';
    // A refusing buffer stays shut until its episode ends: one episode, not one per point.
    if (this.totalBytes() + needed <= limit && !(refusing && this.episode.active)) return true;
    this.episode.begin();
    if (refusing) {
      this.episode.drop(1, 'refuse-newest');
      return false;
    }
    // The segment being written stays: the oldest closed segments go, whole.
    while (this.totalBytes() + needed > limit && this.segments.length > 1) this.dropOldest();
    return true;
  }

  private dropOldest(): void {
    const oldest = this.segments[0];
    if (!oldest) return;
    const c = this.cursor;
    const unsent = oldest.id < c.segment ? 0 : oldest.records - (oldest.id === c.segment ? this.cursorRecords : 0);
    if (oldest.id >= c.segment) this.moveCursorTo(this.segments[1]?.id ?? oldest.id + 1);
    this.removeHead();
    if (unsent > 0) this.episode.drop(unsent, 'drop-oldest');
  }

  /** Moves the cursor past fully sent segments and deletes them; the segment being written stays. */
  private skipConsumed(): void {
    for (;;) {
      const head = this.segments[0];
      const next = this.segments[1];
      if (!head || !next) return;
      if (head.id > this.cursor.segment) this.moveCursorTo(head.id);
      if (head.id === this.cursor.segment) {
        if (this.cursor.offset < head.bytes) return;
        this.moveCursorTo(next.id);
      }
      this.removeHead();
    }
  }

  private moveCursorTo(segment: number): void {
    this.cursor = { segment, offset: 0 };
    this.cursorRecords = 0;
  }

  /** Forgets and deletes the oldest segment; a read in progress keeps its (unlinked) file until it moves on. */
  private removeHead(): void {
    const head = this.segments.shift();
    if (!head) return;
    this.diskBytes -= head.bytes;
    void unlink(segmentPath(this.options.dir, head.id)).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'could not delete a buffer segment'),
    );
  }

  private async readerFor(id: number): Promise<FileHandle> {
    if (this.reader?.id === id) return this.reader.fh;
    await this.reader?.fh.close().catch(() => undefined);
    const fh = await open(segmentPath(this.options.dir, id), 'r');
    this.reader = { id, fh };
    return fh;
  }

  private async startSegment(id: number): Promise<void> {
    await this.writer?.datasync();
    await this.writer?.close();
    this.writer = await open(segmentPath(this.options.dir, id), 'a');
    await syncDirectory(this.options.dir);
    this.segments.push({ id, bytes: 0, records: 0 });
    if (this.segments.length === 1) this.moveCursorTo(id);
  }

  /** Group commit: whatever was appended while one write and fsync ran goes in the next. */
  private async writeLoop(): Promise<void> {
    try {
      while (this.pending.length > 0 && !this.failure) await this.writeOnce();
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeOnce(): Promise<void> {
    const records = this.pending;
    const lines = this.pendingLines;
    const upTo = this.appended;
    this.writing = { records: records.length, bytes: this.pendingBytes };
    this.pending = [];
    this.pendingLines = [];
    this.pendingBytes = 0;
    try {
      for (let from = 0; from < records.length; ) from = await this.writeIntoSegment(records, lines, from);
    } catch (err) {
      this.fail(err as Error);
      return;
    } finally {
      this.writing = { records: 0, bytes: 0 };
    }
    this.synced = upTo;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.upTo <= upTo) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
    this.events.readable();
  }

  /** Writes records from `from` on into the current segment (a new one when it is full); returns where it stopped. */
  private async writeIntoSegment(records: Buffer[], lines: string[], from: number): Promise<number> {
    let current = this.segments.at(-1);
    const limit = this.options.segmentBytes;
    if (!current || (current.bytes > 0 && current.bytes + records[from]!.length > limit)) {
      await this.startSegment((current?.id ?? 0) + 1);
      current = this.segments.at(-1)!;
    }
    let bytes = 0;
    let to = from;
    // At least one record, so a record larger than a segment still goes somewhere.
    while (to < records.length && (to === from || current.bytes + bytes + records[to]!.length <= limit)) {
      bytes += records[to]!.length;
      to++;
    }
    const written = records.slice(from, to);
    await this.writer!.writev(written);
    await this.writer!.datasync();
    this.tail.wrote(
      current.id,
      current.bytes,
      lines.slice(from, to),
      written.map((r) => r.length),
    );
    current.bytes += bytes;
    current.records += to - from;
    this.diskBytes += bytes;
    this.writing.bytes -= bytes;
    this.writing.records -= to - from;
    return to;
  }

  /** A write or fsync failed (disk full, I/O error): nothing appended from now on can be promised durable. */
  private fail(err: Error): void {
    this.failure = err;
    this.log.error({ err: err.message, dir: this.options.dir }, 'buffer write failed; new points are refused');
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private async saveCursor(): Promise<void> {
    this.cursorTimer = undefined;
    await writeCursor(this.options.dir, this.cursor).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'could not save the buffer cursor'),
    );
  }
}
