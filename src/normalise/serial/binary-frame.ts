import { crc16 } from './crc16.js';
import { float16ToNumber, numberToFloat16 } from './float16.js';

/**
 * The compact binary result frame for small MCUs (docs/serial.md#binary-frames), little-endian,
 * before COBS framing:
 *
 * | offset | size       | field                                                             |
 * | ------ | ---------- | ----------------------------------------------------------------- |
 * | 0      | 1          | frame version, 1                                                  |
 * | 1      | 1          | flags: bit 0 scores are float16 (else uint8, 255 = 1.0), bit 1 anomaly present |
 * | 2      | 2          | device number                                                     |
 * | 4      | 4          | seq                                                               |
 * | 8      | 2          | model number                                                      |
 * | 10     | 1          | model version major                                               |
 * | 11     | 1          | model version minor                                               |
 * | 12     | 1          | label index, 255 = none                                           |
 * | 13     | 1          | score count n, 0..16                                              |
 * | 14     | 2          | anomaly, float16                                                  |
 * | 16     | n or 2n    | scores in label order                                             |
 * | end    | 2          | CRC-16/CCITT-FALSE of every byte before it                        |
 */
export const FRAME_VERSION = 1;
export const HEADER_BYTES = 16;
export const MAX_SCORES = 16;
export const MAX_FRAME_BYTES = HEADER_BYTES + 2 * MAX_SCORES + 2;
const FLAG_FLOAT16 = 1;
const FLAG_ANOMALY = 2;
const NO_LABEL = 255;

export interface BinaryResult {
  device: number;
  seq: number;
  model: number;
  version: [number, number];
  labelIndex?: number;
  anomaly?: number;
  scores: number[];
  float16: boolean;
}

export type FrameProblem = 'bad_crc' | 'bad_frame';

export function encodeBinaryResult(r: BinaryResult): Buffer {
  const n = r.scores.length;
  if (n > MAX_SCORES) throw new RangeError(`at most ${MAX_SCORES} scores`);
  const body = Buffer.alloc(HEADER_BYTES + n * (r.float16 ? 2 : 1) + 2);
  body[0] = FRAME_VERSION;
  body[1] = (r.float16 ? FLAG_FLOAT16 : 0) | (r.anomaly !== undefined ? FLAG_ANOMALY : 0);
  body.writeUInt16LE(r.device, 2);
  body.writeUInt32LE(r.seq, 4);
  body.writeUInt16LE(r.model, 8);
  body[10] = r.version[0];
  body[11] = r.version[1];
  body[12] = r.labelIndex ?? NO_LABEL;
  body[13] = n;
  body.writeUInt16LE(numberToFloat16(r.anomaly ?? 0), 14);
  r.scores.forEach((s, i) => {
    if (r.float16) body.writeUInt16LE(numberToFloat16(s), HEADER_BYTES + 2 * i);
    else body[HEADER_BYTES + i] = Math.round(Math.min(1, Math.max(0, s)) * 255);
  });
  body.writeUInt16LE(crc16(body.subarray(0, body.length - 2)), body.length - 2);
  return body;
}

export function decodeBinaryResult(body: Buffer): { ok: true; result: BinaryResult } | { ok: false; reason: FrameProblem; detail: string } {
  if (body.length < HEADER_BYTES + 2) return { ok: false, reason: 'bad_frame', detail: `${body.length} bytes, shorter than a header` };
  const crc = body.readUInt16LE(body.length - 2);
  const computed = crc16(body.subarray(0, body.length - 2));
  if (crc !== computed) return { ok: false, reason: 'bad_crc', detail: `CRC ${hex(crc)}, computed ${hex(computed)}` };
  if (body[0] !== FRAME_VERSION) return { ok: false, reason: 'bad_frame', detail: `frame version ${body[0]}` };
  const flags = body[1]!;
  const float16 = (flags & FLAG_FLOAT16) !== 0;
  const n = body[13]!;
  const expected = HEADER_BYTES + n * (float16 ? 2 : 1) + 2;
  if (n > MAX_SCORES || body.length !== expected) {
    return {
      ok: false,
      reason: 'bad_frame',
      detail: `${body.length} bytes for ${n} ${float16 ? 'float16' : 'uint8'} scores (expected ${expected})`,
    };
  }
  const scores = Array.from({ length: n }, (_, i) =>
    float16 ? float16ToNumber(body.readUInt16LE(HEADER_BYTES + 2 * i)) : body[HEADER_BYTES + i]! / 255,
  );
  const label = body[12]!;
  return {
    ok: true,
    result: {
      device: body.readUInt16LE(2),
      seq: body.readUInt32LE(4),
      model: body.readUInt16LE(8),
      version: [body[10]!, body[11]!],
      labelIndex: label === NO_LABEL ? undefined : label,
      anomaly: flags & FLAG_ANOMALY ? float16ToNumber(body.readUInt16LE(14)) : undefined,
      scores,
      float16,
    },
  };
}

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;
