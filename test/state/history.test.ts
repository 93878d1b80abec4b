import t from 'tap';
import { EMPTY } from 'rxjs';
import { HISTORY_SAMPLE_BYTES, HistoryRing } from '../../src/state/history.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

const event = (device: string, i: number, label = i % 2 ? 'bearing_wear' : 'normal'): InferenceEvent =>
  ({
    device,
    ts: 1_000 + i,
    seq: i,
    receivedAt: 1_000 + i,
    label,
    anomaly: i / 1000,
    scores: { normal: 0.5, bearing_wear: 0.5 },
    model: { name: 'm', version: '1' },
  }) as unknown as InferenceEvent;

const all = { limit: 0, newestFirst: false };

t.test('keeps the newest perDevice samples of each device, oldest first, every field', async (t) => {
  const ring = new HistoryRing({ events$: EMPTY, alarms$: EMPTY }, { perDevice: 100, alarms: 10, maxBytes: 1 << 20 });
  for (let i = 0; i < 250; i++) ring.addEvent(event('a', i));
  ring.addEvent(event('b', 7));
  const anomaly = await ring.values('a', 'anomaly', all);
  t.equal(anomaly.length, 100);
  t.same(anomaly[0], { ts: 1_150, value: 0.15 }, 'the oldest kept');
  t.same(anomaly.at(-1), { ts: 1_249, value: 0.249 }, 'the newest');
  t.same(
    (await ring.values('a', 'label', { limit: 2, newestFirst: true })).map((r) => r.value),
    ['bearing_wear', 'normal'],
  );
  t.same(await ring.values('b', 'confidence', all), [{ ts: 1_007, value: 0.5 }]);
  t.same(await ring.values('nobody', 'anomaly', all), []);
  t.same(
    (await ring.values('a', 'anomaly', { from: 1_200, to: 1_202, limit: 0, newestFirst: false })).map((r) => r.ts),
    [1_200, 1_201, 1_202],
  );
});

t.test('a sample without a field is left out of that field only', async (t) => {
  const ring = new HistoryRing({ events$: EMPTY, alarms$: EMPTY }, { perDevice: 10, alarms: 10, maxBytes: 1 << 20 });
  ring.addEvent({ ...event('a', 1), anomaly: undefined } as unknown as InferenceEvent);
  t.same(await ring.values('a', 'anomaly', all), []);
  t.same(await ring.values('a', 'label', all), [{ ts: 1_001, value: 'bearing_wear' }]);
});

t.test('bounded in bytes: every ring together stays within maxBytes, however many devices send', async (t) => {
  const maxBytes = 1_000 * HISTORY_SAMPLE_BYTES;
  const ring = new HistoryRing({ events$: EMPTY, alarms$: EMPTY }, { perDevice: 1_000, alarms: 10, maxBytes });
  for (let i = 0; i < 2_000; i++) ring.addEvent(event('early', i));
  t.ok(ring.bytes <= maxBytes, `one device: ${ring.bytes} bytes`);
  t.equal((await ring.values('early', 'anomaly', all)).length, 1_000, 'alone, it may take the whole budget');
  for (let d = 0; d < 100; d++) for (let i = 0; i < 50; i++) ring.addEvent(event(`d${d}`, i));
  t.ok(ring.bytes <= maxBytes, `101 devices: ${ring.bytes} bytes of ${maxBytes}`);
  t.equal((await ring.values('early', 'anomaly', all)).length, 1_000, 'a ring never shrinks');
  t.same((await ring.values('early', 'anomaly', { limit: 1, newestFirst: true }))[0]?.ts, 1_000 + 1_999, 'and keeps the newest');
});

t.test('labels are interned: a device sending ever new labels does not grow memory past the table', async (t) => {
  const ring = new HistoryRing({ events$: EMPTY, alarms$: EMPTY }, { perDevice: 4, alarms: 10, maxBytes: 1 << 20 });
  for (let i = 0; i < 70_000; i++) ring.addEvent(event('noisy', i, `l${i}`));
  const labels = await ring.values('noisy', 'label', all);
  t.same(labels, [], 'past 65,535 distinct labels, new ones are not kept');
  t.equal((await ring.values('noisy', 'anomaly', all)).length, 4, 'the numbers are');
});
