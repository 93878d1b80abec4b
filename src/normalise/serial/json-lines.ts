import { LineSplitter } from './line-splitter.js';
import type { SerialDecoder, SerialOutput } from './serial-decoder.js';

/** One InferenceEvent JSON object per line; a port's configured device fills a missing `device`. */
export class JsonLinesDecoder implements SerialDecoder {
  private readonly lines: LineSplitter;

  constructor(
    private readonly device: string | undefined,
    maxBytes: number,
  ) {
    this.lines = new LineSplitter(maxBytes);
  }

  push(chunk: Buffer): SerialOutput[] {
    const out: SerialOutput[] = [];
    this.lines.push(
      chunk,
      (line) => {
        if (line.trim() === '') return;
        out.push(this.parse(line));
      },
      (drop) => out.push(drop),
    );
    return out;
  }

  flush(): SerialOutput[] {
    return [];
  }

  reset(): SerialOutput[] {
    return this.lines.reset() ? [{ ok: false, reason: 'partial_line', detail: 'line cut off when the port closed' }] : [];
  }

  private parse(line: string): SerialOutput {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      return { ok: false, reason: line.trimStart().startsWith('{') ? 'bad_json' : 'other_line', detail: (err as Error).message };
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      return { ok: false, reason: 'bad_json', detail: 'not a JSON object' };
    const event = json as Record<string, unknown>;
    return { ok: true, json: this.device !== undefined && event.device === undefined ? { ...event, device: this.device } : event };
  }
}
