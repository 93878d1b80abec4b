import t from 'tap';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { EventPacker, EventUnpacker, type PackedEvents } from '../../src/sinks/influx/event-pack.js';
import { inferenceLine } from '../../src/sinks/influx/points.js';

/** What the worker gets: a structured clone with the numbers transferred, as postMessage makes it. */
const hop = (p: PackedEvents): PackedEvents => structuredClone(p, { transfer: [p.numbers.buffer] });

function unpacked(unpacker: EventUnpacker, p: PackedEvents): InferenceEvent[] {
  const out: InferenceEvent[] = [];
  unpacker.each(hop(p), (e) => out.push(e));
  return out;
}

const model = { name: 'motor', version: '2.3.1' };
const events: InferenceEvent[] = [
  { device: 'd1', ts: 1, model, anomaly: 0.5 },
  { device: 'd1', ts: 2, seq: 3, model: { name: 'motor', version: '2.4.0' }, label: 'wear', scores: { wear: 0.7, '1': 0.2, normal: 0.1 } },
  { device: 'a b,c=d', ts: 3, model: { name: 'm x', version: 'v=1' }, label: 'say "hi"', anomaly: NaN, values: { 'temp c': 21.5 } },
  { device: 'd2', ts: 4, seq: 0, model, timing: { inference_ms: 2 }, values: { rpm: 1500, temp: -3.25 } },
  { device: 'd2', ts: 1_767_225_600_123, model, label: 'normal', scores: { wear: 0.6, normal: 0.4 }, timing: { dsp_ms: 1.25 } },
];

t.test('packed and unpacked, every event gives the line it gave before', async (t) => {
  const packer = new EventPacker();
  const unpacker = new EventUnpacker();
  for (const round of [1, 2]) {
    for (const e of events) packer.add(e);
    t.equal(packer.size, events.length);
    const p = packer.take();
    t.equal(p.strings.length === 0, round === 2, round === 1 ? 'new strings go with the first pack' : 'and only then');
    t.same(unpacked(unpacker, p).map(inferenceLine), events.map(inferenceLine), `round ${round}`);
    t.equal(packer.size, 0, 'take empties the packer');
  }
  const big = Array.from(
    { length: 2000 },
    (_, i): InferenceEvent => ({ device: `d${i}`, ts: i, seq: i, model, scores: { a: 0.5, b: 0.5 } }),
  );
  for (const e of big) packer.add(e);
  t.same(unpacked(unpacker, packer.take()).map(inferenceLine), big.map(inferenceLine), 'a pack larger than the first buffer');
});

t.test('the string table starts again past its bound, on both sides, between packs', async (t) => {
  const packer = new EventPacker();
  const unpacker = new EventUnpacker();
  let resets = 0;
  for (let i = 0; i < 50_100; i++) {
    packer.add({ device: `dev-${i}`, ts: i, model, anomaly: 1 });
    const p = packer.take();
    if (p.reset) resets++;
    const [e] = unpacked(unpacker, p);
    if (e?.device !== `dev-${i}`) t.fail(`event ${i} came back as ${e?.device}`);
  }
  t.equal(resets, 1);
  const [again] = unpacked(unpacker, (packer.add({ device: 'dev-7', ts: 1, model, anomaly: 1 }), packer.take()));
  t.equal(again?.model.name, 'motor', 'strings met before the reset are sent again');
});
