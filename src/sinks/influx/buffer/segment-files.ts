import { open, readdir, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { scanRecords } from './record.js';
import type { StorePosition } from './point-store.js';

const SEGMENT_NAME = /^(\d{12})\.wal$/;
const SCAN_CHUNK = 4 * 1024 * 1024;

export const segmentPath = (dir: string, id: number): string => join(dir, `${String(id).padStart(12, '0')}.wal`);

/** Segment ids in a buffer directory, oldest first. */
export async function listSegments(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .flatMap((n) => SEGMENT_NAME.exec(n)?.[1] ?? [])
    .map(Number)
    .sort((a, b) => a - b);
}

export interface SegmentScan {
  /** Bytes of whole, valid records from the start of the file. */
  validBytes: number;
  records: number;
  fileBytes: number;
  /** Record count at `probe` when `probe` falls on a record boundary. */
  recordsAtProbe?: number;
  /** Why the valid part ends before the file does. */
  stop?: 'partial' | 'corrupt';
}

/** Reads a segment through, checking every record; `probe` is an offset whose record index is wanted (the cursor). */
export async function scanSegment(file: string, probe?: number): Promise<SegmentScan> {
  const fh = await open(file, 'r');
  try {
    const fileBytes = (await fh.stat()).size;
    let at = 0;
    let records = 0;
    let recordsAtProbe = probe === 0 ? 0 : undefined;
    let carry = Buffer.alloc(0);
    while (at + carry.length < fileBytes) {
      const chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, fileBytes - at - carry.length));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, at + carry.length);
      const data = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      const r = scanRecords(data, Infinity, false);
      if (probe !== undefined && probe > at && probe <= at + r.consumed) recordsAtProbe = boundaryIndex(data, probe - at, records);
      at += r.consumed;
      records += r.count;
      if (r.stop === 'corrupt' || bytesRead === 0) return { validBytes: at, records, fileBytes, recordsAtProbe, stop: r.stop ?? 'partial' };
      carry = data.subarray(r.consumed);
      if (r.stop === 'partial' && at + carry.length >= fileBytes)
        return { validBytes: at, records, fileBytes, recordsAtProbe, stop: 'partial' };
    }
    return { validBytes: at, records, fileBytes, ...(recordsAtProbe === undefined ? {} : { recordsAtProbe }) };
  } finally {
    await fh.close();
  }
}

/** The index of the record starting at `offset` in `data` (records before it + `before`), or undefined off a boundary. */
function boundaryIndex(data: Buffer, offset: number, before: number): number | undefined {
  let at = 0;
  let n = before;
  while (at < offset) {
    at += 8 + data.readUInt32LE(at);
    n++;
  }
  return at === offset ? n : undefined;
}

/** The cursor: where the next unsent point starts. Losing it only means re-sending (writes are idempotent). */
export async function readCursor(dir: string): Promise<StorePosition | undefined> {
  try {
    const c = JSON.parse(await readFile(join(dir, 'cursor.json'), 'utf8')) as Partial<StorePosition>;
    return Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.offset) ? { segment: c.segment!, offset: c.offset! } : undefined;
  } catch {
    return undefined;
  }
}

export async function writeCursor(dir: string, cursor: StorePosition): Promise<void> {
  const tmp = join(dir, 'cursor.json.tmp');
  await writeFile(tmp, JSON.stringify(cursor));
  await rename(tmp, join(dir, 'cursor.json'));
}

/** fsync of the directory, so a newly created segment's name survives a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } finally {
    await fh?.close();
  }
}
