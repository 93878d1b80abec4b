import t from 'tap';
import { decodeMqttFrame } from '../../src/normalise/decode-mqtt.js';
import { topClass } from '../../src/normalise/inference-event.js';

const frame = (payload: unknown, topic = 'tinyml/press-01/inference') => ({
  topic,
  payload: Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
  receivedAt: 1_700_000_000_000,
});

const valid = { device: 'press-01', model: { name: 'm', version: '1.0.0' }, anomaly: 0.4 };

t.test('a minimal valid event gets the receive time when it has no ts', async (t) => {
  const d = decodeMqttFrame(frame(valid));
  t.ok(d.ok);
  if (d.ok) t.same(d.event, { ...valid, ts: 1_700_000_000_000 });
});

t.test('ts may be epoch ms or ISO-8601 with a zone', async (t) => {
  const a = decodeMqttFrame(frame({ ...valid, ts: 1_600_000_000_123 }));
  const b = decodeMqttFrame(frame({ ...valid, ts: '2020-09-13T12:26:40.123Z' }));
  t.ok(a.ok && b.ok);
  if (a.ok && b.ok) t.equal(b.event.ts, a.event.ts);
  const c = decodeMqttFrame(frame({ ...valid, ts: '2020-09-13 12:26' }));
  t.match(c, { ok: false, reason: 'schema' });
});

t.test('every field of v1 passes through; unknown top-level fields are dropped', async (t) => {
  const full = {
    v: 1,
    device: 'press-01',
    ts: 5,
    seq: 42,
    model: { name: 'kws', version: '0.3' },
    label: 'yes',
    scores: { yes: 0.8, no: 0.2 },
    anomaly: 0,
    timing: { dsp_ms: 10, inference_ms: 2 },
    values: { temp: -3.5 },
    firmware: 'x',
  };
  const d = decodeMqttFrame(frame(full));
  t.ok(d.ok);
  if (d.ok) {
    const { v: _v, firmware: _f, ...expected } = full;
    t.same(d.event, expected);
  }
});

t.test('rejections carry a reason per cause', async (t) => {
  const cases: [string, Parameters<typeof frame>[0], string?][] = [
    ['bad_json', '{"device":'],
    ['bad_json', Buffer.from([0xff, 0xfe, 0x00])],
    ['oversize', { ...valid, values: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`v${i}`, i])) }],
    ['bad_topic', valid, 'tinyml/press-01/other'],
    ['device_mismatch', valid, 'tinyml/press-02/inference'],
    ['schema', { ...valid, anomaly: -1 }],
    ['schema', { ...valid, anomaly: 'high' }],
    ['schema', { ...valid, device: 'bad id!' }],
    ['schema', { device: 'press-01', model: { name: 'm', version: '1' } }],
    ['schema', { ...valid, scores: { a: 1.5 } }],
    ['schema', { ...valid, seq: -1 }],
    ['schema', { ...valid, ts: 1_763_800_000_000_000 }],
    ['schema', { ...valid, ts: '9999-01-01T00:00:00Z' }],
    ['schema', { device: 'press-01', model: { name: 'm', version: '1' }, scores: {} }],
    ['schema', { ...valid, model: { name: 'm' } }],
    ['schema', [1, 2]],
    ['schema', null],
  ];
  for (const [reason, payload, topic] of cases) {
    const d = decodeMqttFrame(frame(payload, topic));
    t.match(d, { ok: false, reason }, `${reason}: ${JSON.stringify(payload).slice(0, 60)}`);
  }
});

t.test('topClass prefers the reported label and falls back to the best score', async (t) => {
  const base = { device: 'd', ts: 0, model: { name: 'm', version: '1' } };
  t.same(topClass({ ...base, scores: { a: 0.2, b: 0.7 } }), { label: 'b', confidence: 0.7 });
  t.same(topClass({ ...base, label: 'a', scores: { a: 0.2, b: 0.7 } }), { label: 'a', confidence: 0.2 });
  t.same(topClass({ ...base, label: 'z' }), { label: 'z', confidence: undefined });
  t.same(topClass({ ...base, anomaly: 1 }), {});
});
