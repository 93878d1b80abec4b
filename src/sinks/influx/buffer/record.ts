import { crc32 } from 'node:zlib';

/**
 * One buffered point on disk: `length u32 LE | crc32 u32 LE | payload` where the payload is the
 * point's line protocol in UTF-8. The checksum lets a restart tell a whole record from one a
 * crash or a bad sector cut short.
 */
export const RECORD_HEADER = 8;
/** A line longer than this is a corrupt length field, not a point. */
export const MAX_RECORD_PAYLOAD = 1024 * 1024;

export function encodeRecord(line: string): Buffer {
  const payloadLength = Buffer.byteLength(line);
  const record = Buffer.allocUnsafe(RECORD_HEADER + payloadLength);
  record.write(line, RECORD_HEADER, 'utf8');
  record.writeUInt32LE(payloadLength, 0);
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER)), 4);
  return record;
}

export interface ScanResult {
  /** Decoded payloads, unless the scan only counted. */
  lines: string[];
  count: number;
  /** Bytes of `chunk` taken by whole, valid records. */
  consumed: number;
  /** Why the scan stopped before the end of `chunk`: a record cut short, or one that fails its checksum. */
  stop?: 'partial' | 'corrupt';
  /** Bytes the partial record at the stop needs in total (to read it whole next time). */
  needed?: number;
}

/**
 * Whole records from the start of `chunk`, at most `max` of them. A record that runs past the end
 * of the chunk is `partial` (read more); one with an impossible length or a wrong checksum is `corrupt`.
 */
export function scanRecords(chunk: Buffer, max = Infinity, keepLines = true): ScanResult {
  const lines: string[] = [];
  let at = 0;
  let count = 0;
  while (count < max) {
    if (chunk.length - at < RECORD_HEADER) {
      return { lines, count, consumed: at, ...(at < chunk.length ? { stop: 'partial' as const, needed: RECORD_HEADER } : {}) };
    }
    const length = chunk.readUInt32LE(at);
    if (length > MAX_RECORD_PAYLOAD) return { lines, count, consumed: at, stop: 'corrupt' };
    const end = at + RECORD_HEADER + length;
    if (end > chunk.length) return { lines, count, consumed: at, stop: 'partial', needed: RECORD_HEADER + length };
    const payload = chunk.subarray(at + RECORD_HEADER, end);
    if (crc32(payload) !== chunk.readUInt32LE(at + 4)) return { lines, count, consumed: at, stop: 'corrupt' };
    if (keepLines) lines.push(payload.toString('utf8'));
    count++;
    at = end;
  }
  return { lines, count, consumed: at };
}
