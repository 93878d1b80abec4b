import { cobsDecode } from './cobs.js';
import { decodeBinaryResult, MAX_FRAME_BYTES, type BinaryResult } from './binary-frame.js';
import type { SerialDecoder, SerialOutput } from './serial-decoder.js';
import { DelimitedReader } from './delimited.js';

/** COBS adds at most one byte per 254: a frame longer than this between two zeros is not one of ours. */
const MAX_ENCODED = MAX_FRAME_BYTES + 2;

export interface BinaryNames {
  /** A fixed device id for the port; else `devices[number]`, else `<devicePrefix><number>`. */
  device?: string;
  devices: Record<string, string>;
  devicePrefix: string;
  /** Model number → name and label names (by score index); unknown numbers become `model-<n>`, `class-<i>`. */
  models: Record<string, { name: string; labels: string[] }>;
}

/** Zero-delimited COBS frames of the binary result layout (binary-frame.ts) → events. */
export class BinaryFrameDecoder implements SerialDecoder {
  private readonly reader = new DelimitedReader(0x00, MAX_ENCODED);

  constructor(private readonly names: BinaryNames) {}

  push(chunk: Buffer): SerialOutput[] {
    const out: SerialOutput[] = [];
    this.reader.push(
      chunk,
      (frame) => {
        if (frame.length > 0) out.push(this.decode(frame));
      },
      () => out.push({ ok: false, reason: 'oversize', detail: `no frame delimiter within ${MAX_ENCODED} bytes` }),
    );
    return out;
  }

  flush(): SerialOutput[] {
    return [];
  }

  reset(): SerialOutput[] {
    return this.reader.reset() ? [{ ok: false, reason: 'partial_line', detail: 'frame cut off when the port closed' }] : [];
  }

  private decode(encoded: Buffer): SerialOutput {
    const body = cobsDecode(encoded);
    if (!body) return { ok: false, reason: 'bad_cobs', detail: `${encoded.length} bytes that are not COBS` };
    const decoded = decodeBinaryResult(body);
    return decoded.ok ? { ok: true, json: this.event(decoded.result) } : decoded;
  }

  private event(r: BinaryResult): Record<string, unknown> {
    const model = this.names.models[String(r.model)];
    const labelOf = (i: number): string => model?.labels[i] ?? `class-${i}`;
    const json: Record<string, unknown> = {
      device: this.names.device ?? this.names.devices[String(r.device)] ?? `${this.names.devicePrefix}${r.device}`,
      seq: r.seq,
      model: { name: model?.name ?? `model-${r.model}`, version: `${r.version[0]}.${r.version[1]}` },
    };
    if (r.labelIndex !== undefined) json.label = labelOf(r.labelIndex);
    if (r.scores.length > 0) json.scores = Object.fromEntries(r.scores.map((s, i) => [labelOf(i), s]));
    if (r.anomaly !== undefined) json.anomaly = r.anomaly;
    return json;
  }
}
