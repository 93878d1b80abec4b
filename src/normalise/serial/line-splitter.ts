import { DelimitedReader } from './delimited.js';
import type { SerialOutput } from './serial-decoder.js';

const TEXT = /^[\t\x20-\x7e\u00a0-\ufffc]*$/; // U+FFFD: bytes that were not UTF-8

/** Splits bytes into lines (LF or CRLF), refusing lines over `maxBytes` and lines that are not text. */
export class LineSplitter {
  private readonly reader: DelimitedReader;

  constructor(private readonly maxBytes: number) {
    this.reader = new DelimitedReader(0x0a, maxBytes);
  }

  push(chunk: Buffer, onLine: (line: string) => void, onDrop: (drop: SerialOutput & { ok: false }) => void): void {
    this.reader.push(
      chunk,
      (bytes) => {
        const line = bytes.toString('utf8').replace(/\r$/, '');
        if (!TEXT.test(line)) onDrop({ ok: false, reason: 'garbage', detail: `${bytes.length} bytes that are not text` });
        else onLine(line);
      },
      () => onDrop({ ok: false, reason: 'oversize', detail: `line longer than ${this.maxBytes} bytes` }),
    );
  }

  /** Drops a half-received line (the port closed); true when there was one. */
  reset(): boolean {
    return this.reader.reset();
  }
}
