import t from 'tap';
import { readFileSync } from 'node:fs';
import { cobsDecode, cobsEncode } from '../../../src/normalise/serial/cobs.js';
import { crc16 } from '../../../src/normalise/serial/crc16.js';
import { float16ToNumber, numberToFloat16 } from '../../../src/normalise/serial/float16.js';
import { decodeBinaryResult, encodeBinaryResult, type BinaryResult } from '../../../src/normalise/serial/binary-frame.js';

export interface FrameVector {
  name: string;
  result: BinaryResult;
  frame: string;
}
const VECTORS = JSON.parse(readFileSync('test/fixtures/binary-frames.json', 'utf8')) as FrameVector[];

t.test('CRC-16/CCITT-FALSE check value', async (t) => {
  t.equal(crc16(Buffer.from('123456789')), 0x29b1);
  t.equal(crc16(Buffer.alloc(0)), 0xffff);
});

t.test('COBS: the published examples, round trips, and malformed input', async (t) => {
  const cases: [number[], number[]][] = [
    [[0x00], [0x01, 0x01]],
    [
      [0x00, 0x00],
      [0x01, 0x01, 0x01],
    ],
    [
      [0x11, 0x22, 0x00, 0x33],
      [0x03, 0x11, 0x22, 0x02, 0x33],
    ],
    [
      [0x11, 0x22, 0x33, 0x44],
      [0x05, 0x11, 0x22, 0x33, 0x44],
    ],
    [
      [0x11, 0x00, 0x00, 0x00],
      [0x02, 0x11, 0x01, 0x01, 0x01],
    ],
  ];
  for (const [raw, encoded] of cases) {
    t.same([...cobsEncode(Buffer.from(raw))], encoded, `encode ${Buffer.from(raw).toString('hex')}`);
    t.same([...cobsDecode(Buffer.from(encoded))!], raw, `decode ${Buffer.from(encoded).toString('hex')}`);
  }
  const long = Buffer.from(Array.from({ length: 600 }, (_, i) => (i % 300 === 0 ? 0 : i % 256 || 1)));
  t.same(cobsDecode(cobsEncode(long)), long, '254-byte runs');
  t.equal(cobsDecode(Buffer.from([0x05, 0x11])), undefined, 'a code past the end');
  t.equal(cobsDecode(Buffer.from([0x03, 0x11, 0x00])), undefined, 'a zero inside');
  t.equal(cobsDecode(Buffer.from([0x00])), undefined, 'a zero code');
});

t.test('float16', async (t) => {
  const known: [number, number][] = [
    [1, 0x3c00],
    [0.5, 0x3800],
    [-2, 0xc000],
    [65504, 0x7bff],
    [0.1, 0x2e66],
    [0, 0],
    [2 ** -24, 0x0001],
    [1e6, 0x7c00],
    [Infinity, 0x7c00],
  ];
  for (const [value, bits] of known) {
    t.equal(numberToFloat16(value), bits, `${value} → 0x${bits.toString(16)}`);
    if (Number.isFinite(value) && value < 65520) t.equal(float16ToNumber(bits), value === 0.1 ? 0.0999755859375 : value);
  }
  t.ok(Number.isNaN(float16ToNumber(numberToFloat16(NaN))));
  t.equal(float16ToNumber(0xfc00), -Infinity);
  t.equal(numberToFloat16(2 ** -30), 0, 'below the smallest subnormal');
});

t.test('binary frames: the shared vectors encode and decode', async (t) => {
  t.ok(VECTORS.length >= 4);
  for (const v of VECTORS) {
    const framed = Buffer.concat([cobsEncode(encodeBinaryResult(v.result)), Buffer.from([0])]);
    t.equal(framed.toString('hex'), v.frame, `${v.name}: encodes to the vector`);
    const decoded = decodeBinaryResult(cobsDecode(Buffer.from(v.frame, 'hex').subarray(0, -1))!);
    t.ok(decoded.ok, v.name);
    if (!decoded.ok) continue;
    t.match(decoded.result, {
      device: v.result.device,
      seq: v.result.seq,
      model: v.result.model,
      version: v.result.version,
      float16: v.result.float16,
    });
    t.equal(decoded.result.labelIndex, v.result.labelIndex);
    t.equal(decoded.result.anomaly, v.result.anomaly);
    decoded.result.scores.forEach((s, i) =>
      t.ok(Math.abs(s - v.result.scores[i]!) <= (v.result.float16 ? 0.0005 : 0.002), `${v.name} score ${i}`),
    );
  }
});

t.test('binary frames: what is refused, and why', async (t) => {
  const body = encodeBinaryResult(VECTORS[0]!.result);
  const flipped = Buffer.from(body);
  flipped[5] = flipped[5]! ^ 0x10;
  t.match(decodeBinaryResult(flipped), { ok: false, reason: 'bad_crc', detail: /CRC 0x[0-9a-f]{4}, computed 0x[0-9a-f]{4}/ });
  t.match(decodeBinaryResult(body.subarray(0, 10)), { ok: false, reason: 'bad_frame', detail: /shorter than a header/ });
  const v2 = Buffer.from(body);
  v2[0] = 2;
  v2.writeUInt16LE(crc16(v2.subarray(0, -2)), v2.length - 2);
  t.match(decodeBinaryResult(v2), { ok: false, reason: 'bad_frame', detail: 'frame version 2' });
  const short = Buffer.concat([body.subarray(0, -3), Buffer.alloc(2)]);
  short.writeUInt16LE(crc16(short.subarray(0, -2)), short.length - 2);
  t.match(decodeBinaryResult(short), { ok: false, reason: 'bad_frame', detail: /for 3 uint8 scores/ });
  t.throws(() => encodeBinaryResult({ ...VECTORS[0]!.result, scores: Array(17).fill(0) }), RangeError);
});
