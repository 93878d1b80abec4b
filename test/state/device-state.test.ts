import t from 'tap';
import { DeviceStateStore } from '../../src/state/device-state.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

const clock = { now: () => 1_000 };
const event = (scores: Record<string, number>): InferenceEvent => ({
  device: 'press-01',
  ts: 1,
  model: { name: 'm', version: '1' },
  scores,
});

t.test('a device keeps its own scores: the newest values, never the event object', async (t) => {
  const store = new DeviceStateStore(clock, 60_000);
  const first = event({ normal: 0.9, wear: 0.1 });
  store.applyEvent(first);
  const d = store.get('press-01')!;
  t.not(d.scores, first.scores, 'a copy, not the parsed event’s object');
  t.same(d.scores, { normal: 0.9, wear: 0.1 });
  t.equal(d.label, 'normal');

  const second = event({ normal: 0.2, wear: 0.8 });
  store.applyEvent(second);
  t.same(d.scores, { normal: 0.2, wear: 0.8 }, 'the same classes: the newest values');
  t.equal(d.label, 'wear');
  t.not(d.scores, second.scores);

  store.applyEvent(event({ normal: 0.5, misalignment: 0.5 }));
  t.same(d.scores, { normal: 0.5, misalignment: 0.5 }, 'other classes: no class of the event before is left');
  store.applyEvent(event({ normal: 1 }));
  t.same(d.scores, { normal: 1 }, 'fewer classes');
  store.applyEvent(event({ normal: 0.5, constructor: 0.5 }));
  t.same(d.scores, { normal: 0.5, constructor: 0.5 }, 'a class named like an Object member is a class');
  store.applyEvent({ ...event({}), scores: undefined, anomaly: 0.3 });
  t.same(d.scores, { normal: 0.5, constructor: 0.5 }, 'an event without scores keeps the last ones');
});
