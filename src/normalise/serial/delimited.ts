/**
 * Cuts a byte stream at a delimiter byte (LF for text, 0x00 for COBS frames). A piece longer than
 * `maxBytes` is refused once and skipped up to the next delimiter, which is how a reader that
 * joined mid-stream, or met garbage, gets back in step.
 */
export class DelimitedReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowing = false;

  constructor(
    private readonly delimiter: number,
    private readonly maxBytes: number,
  ) {}

  push(chunk: Buffer, onPiece: (piece: Buffer) => void, onOversize: () => void): void {
    let start = 0;
    for (let at = chunk.indexOf(this.delimiter); at !== -1; at = chunk.indexOf(this.delimiter, start)) {
      this.take(chunk.subarray(start, at), onOversize);
      const piece = Buffer.concat(this.pending);
      const overflowed = this.overflowing;
      this.clear();
      start = at + 1;
      if (!overflowed) onPiece(piece);
    }
    this.take(chunk.subarray(start), onOversize);
  }

  /** Drops a half-received piece (the port closed); true when there was one. */
  reset(): boolean {
    const had = this.pendingBytes > 0 && !this.overflowing;
    this.clear();
    return had;
  }

  private clear(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.overflowing = false;
  }

  private take(part: Buffer, onOversize: () => void): void {
    if (this.overflowing || part.length === 0) return;
    if (this.pendingBytes + part.length > this.maxBytes) {
      onOversize();
      this.clear();
      this.overflowing = true;
      return;
    }
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }
}
