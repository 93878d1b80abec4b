import type { SerialOutput } from './serial-decoder.js';

/** Printable text plus tab; anything else in a line means the bytes are not text (wrong baud rate, binary). */
const TEXT = /^[\t\x20-\x7e\u00a0-\ufffc]*$/; // U+FFFD: bytes that were not UTF-8

/**
 * Splits bytes into lines (LF or CRLF), refusing lines over `maxBytes` and lines that are not text;
 * what follows a refused line is read normally from the next newline on.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowing = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer, onLine: (line: string) => void, onDrop: (drop: SerialOutput & { ok: false }) => void): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.take(chunk.subarray(start, nl), onDrop);
      const bytes = Buffer.concat(this.pending);
      const overflowed = this.overflowing;
      this.pending = [];
      this.pendingBytes = 0;
      this.overflowing = false;
      start = nl + 1;
      if (overflowed) continue;
      const line = bytes.toString('utf8').replace(/\r$/, '');
      if (!TEXT.test(line)) onDrop({ ok: false, reason: 'garbage', detail: `${bytes.length} bytes that are not text` });
      else onLine(line);
    }
    this.take(chunk.subarray(start), onDrop);
  }

  /** Drops a half-received line (the port closed); true when there was one. */
  reset(): boolean {
    const had = this.pendingBytes > 0 && !this.overflowing;
    this.pending = [];
    this.pendingBytes = 0;
    this.overflowing = false;
    return had;
  }

  private take(piece: Buffer, onDrop: (drop: SerialOutput & { ok: false }) => void): void {
    if (this.overflowing || piece.length === 0) return;
    if (this.pendingBytes + piece.length > this.maxBytes) {
      onDrop({ ok: false, reason: 'oversize', detail: `line longer than ${this.maxBytes} bytes` });
      this.overflowing = true;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(Buffer.from(piece));
    this.pendingBytes += piece.length;
  }
}
