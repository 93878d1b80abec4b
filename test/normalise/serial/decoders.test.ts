import t from 'tap';
import { readFileSync } from 'node:fs';
import { EdgeImpulseDecoder } from '../../../src/normalise/serial/edge-impulse-text.js';
import { JsonLinesDecoder } from '../../../src/normalise/serial/json-lines.js';
import { BinaryFrameDecoder } from '../../../src/normalise/serial/binary-decoder.js';
import type { SerialDecoder, SerialOutput } from '../../../src/normalise/serial/serial-decoder.js';
import { decodeEventJson } from '../../../src/normalise/decode-mqtt.js';
import type { FrameVector } from './codecs.test.js';

const VECTORS = JSON.parse(readFileSync('test/fixtures/binary-frames.json', 'utf8')) as FrameVector[];

/** Feeds `bytes` in pieces of `size`, as a UART delivers them, then flushes. */
function feed(decoder: SerialDecoder, bytes: Buffer, size = 7): SerialOutput[] {
  const out: SerialOutput[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(...decoder.push(bytes.subarray(i, i + size)));
  return [...out, ...decoder.flush()];
}
const events = (out: SerialOutput[]) => out.filter((o) => o.ok).map((o) => (o.ok ? o.json : {}));
const drops = (out: SerialOutput[]) => out.filter((o) => !o.ok).map((o) => (o.ok ? '' : o.reason));

const MODEL = { name: 'gestures', version: '7' };

t.test('Edge Impulse: the classic Arduino block, with and without anomaly, amid boot chatter', async (t) => {
  const text = [
    'Edge Impulse Inferencing Demo',
    'Starting inferencing in 2 seconds...',
    'Sampling...',
    'Predictions (DSP: 13 ms., Classification: 1 ms., Anomaly: 0 ms.): ',
    '    idle: 0.99609',
    '    snake: 0.00000',
    '    wave: 0.00391',
    '    anomaly score: -0.271',
    'Sampling...',
    'Predictions (DSP: 12 ms., Classification: 2 ms., Anomaly: 1 ms.): ',
    '    idle: 0.10000',
    '    snake: 0.80000',
    '    wave: 0.10000',
    '',
  ].join('\r\n');
  const decoder = new EdgeImpulseDecoder({ device: 'nano-1', model: MODEL, maxLineBytes: 256 });
  const out = feed(decoder, Buffer.from(text));
  const [first, second] = events(out);
  t.same(first, {
    device: 'nano-1',
    model: MODEL,
    scores: { idle: 0.99609, snake: 0, wave: 0.00391 },
    label: 'idle',
    anomaly: 0,
    values: { ei_anomaly: -0.271 },
    timing: { dsp_ms: 13, inference_ms: 1 },
  });
  t.same(second, {
    device: 'nano-1',
    model: MODEL,
    scores: { idle: 0.1, snake: 0.8, wave: 0.1 },
    label: 'snake',
    timing: { dsp_ms: 12, inference_ms: 2 },
  });
  t.same(drops(out), ['other_line', 'other_line', 'other_line', 'other_line'], 'chatter is counted, not an error');
  for (const e of events(out)) t.ok(decodeEventJson(e, 1).ok, 'valid InferenceEvents');
});

t.test("Edge Impulse: the newer SDK's ei_print_results format", async (t) => {
  const text =
    'Timing: DSP 3 ms, inference 0 ms, anomaly 0 ms\nPredictions:\n  normal: 0.12500\n  fault: 0.87500\nAnomaly prediction: 1.250\n';
  const out = feed(new EdgeImpulseDecoder({ device: 'esp-2', model: MODEL, maxLineBytes: 256 }), Buffer.from(text), 3);
  t.same(events(out), [
    {
      device: 'esp-2',
      model: MODEL,
      scores: { normal: 0.125, fault: 0.875 },
      label: 'fault',
      anomaly: 1.25,
      values: { ei_anomaly: 1.25 },
      timing: { dsp_ms: 3, inference_ms: 0 },
    },
  ]);
});

t.test('Edge Impulse: cut-off blocks, garbage, oversize lines and a closed port', async (t) => {
  const decoder = new EdgeImpulseDecoder({ device: 'd', model: MODEL, maxLineBytes: 64 });
  const bytes = Buffer.concat([
    Buffer.from('Predictions (DSP: 1 ms., Classification: 1 ms., Anomaly: 0 ms.):\n'),
    Buffer.from('Predictions (DSP: 1 ms., Classification: 1 ms., Anomaly: 0 ms.):\n  a: 0.5\n'),
    Buffer.from([0xff, 0x00, 0x13, 0x0a]),
    Buffer.from(`${'x'.repeat(200)}\n`),
    Buffer.from('Predictions (DSP: 1 ms., Classification: 1 ms., Anomaly: 0 ms.):\n  a: 0.7\n  b: 0.3'),
  ]);
  const out = feed(decoder, bytes, 5);
  t.same(drops(out), ['partial_line', 'garbage', 'oversize'], 'an empty block, non-text bytes, a 200-byte line');
  t.same(
    events(out).map((e) => e.scores),
    [{ a: 0.5 }, { a: 0.7 }],
    'the block after the garbage line; the last waits for its newline',
  );
  t.same(drops(decoder.reset()), ['partial_line'], 'the half line of the last block when the port closes');
  t.same(decoder.reset(), [], 'nothing open after a reset');
});

t.test('JSON lines: device from the port, schema later, resync after junk', async (t) => {
  const decoder = new JsonLinesDecoder('uart-dev', 128);
  const text =
    '{"model":{"name":"m","version":"1"},"anomaly":0.5}\n{"device":"own","model":{"name":"m","version":"1"},"anomaly":0.1}\n{"broken":\nboot ok\n[1,2]\n\n';
  const out = feed(decoder, Buffer.from(text), 11);
  t.same(
    events(out).map((e) => e.device),
    ['uart-dev', 'own'],
  );
  t.same(drops(out), ['bad_json', 'other_line', 'bad_json']);
  t.same(
    new JsonLinesDecoder(undefined, 10).push(Buffer.from('{"model":1}\n')).map((o) => !o.ok && o.reason),
    ['oversize'],
  );
  const half = new JsonLinesDecoder(undefined, 128);
  half.push(Buffer.from('{"dev'));
  t.same(drops(half.reset()), ['partial_line']);
  t.same(events(new JsonLinesDecoder(undefined, 128).push(Buffer.from('{"a":1}\n'))), [{ a: 1 }], 'no port device: the payload as is');
});

const names = {
  devices: { '7': 'fan-07' },
  devicePrefix: 'mcu-',
  models: { '3': { name: 'motor-ad', labels: ['normal', 'imbalance', 'wear'] } },
};

t.test('binary frames: every vector decodes, split anywhere; names come from the port config', async (t) => {
  const stream = Buffer.concat(VECTORS.map((v) => Buffer.from(v.frame, 'hex')));
  for (const size of [1, 3, 64]) {
    const out = feed(new BinaryFrameDecoder(names), stream, size);
    t.same(drops(out), [], `pieces of ${size}`);
    t.equal(events(out).length, VECTORS.length);
  }
  const [first, second, third] = events(feed(new BinaryFrameDecoder(names), stream));
  t.same(first, {
    device: 'fan-07',
    seq: 1,
    model: { name: 'motor-ad', version: '1.4' },
    label: 'wear',
    scores: { normal: 64 / 255, imbalance: 0, wear: 191 / 255 },
    anomaly: 0.75,
  });
  t.match(second, { device: 'mcu-258', model: { name: 'model-1', version: '2.0' }, scores: { 'class-0': Number, 'class-2': Number } });
  t.notOk('label' in (second ?? {}));
  t.same(third, { device: 'mcu-65535', seq: 4294967295, model: { name: 'model-65535', version: '255.254' }, anomaly: 3.5 });
  t.equal(events(feed(new BinaryFrameDecoder({ ...names, device: 'fixed' }), stream))[0]?.device, 'fixed');
});

t.test('binary frames: garbage, a flipped bit, an endless frame, a torn frame: counted, then back in sync', async (t) => {
  const good = Buffer.from(VECTORS[0]!.frame, 'hex');
  const flipped = Buffer.from(good);
  flipped[2] = flipped[2]! ^ 0x01; // a data byte (the flags), not a COBS code
  const bytes = Buffer.concat([
    Buffer.from('hello from the bootloader\r\n'), // text before the first delimiter: not COBS of a frame
    Buffer.from([0]),
    good,
    flipped,
    Buffer.alloc(80, 0x41), // no delimiter for 80 bytes
    Buffer.from([0]),
    Buffer.from([0x05, 0x11, 0x00]), // a code past the end
    good,
  ]);
  const decoder = new BinaryFrameDecoder(names);
  const out = feed(decoder, bytes, 9);
  t.same(drops(out), ['bad_cobs', 'bad_crc', 'oversize', 'bad_cobs']);
  t.equal(events(out).length, 2, 'both good frames');
  decoder.push(good.subarray(0, 5));
  t.same(drops(decoder.reset()), ['partial_line'], 'a frame cut by the port closing');
});
