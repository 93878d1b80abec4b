import t from 'tap';
import { ResendFilter } from '../../src/normalise/resend-filter.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

const event = (seq: number | undefined, anomaly = 0.1, device = 'd1'): InferenceEvent => ({
  device,
  ts: 0,
  ...(seq === undefined ? {} : { seq }),
  model: { name: 'm', version: '1' },
  anomaly,
});

t.test('the same device, seq and content within the window is a resend; anything else is new', async (t) => {
  const f = new ResendFilter({ ms: 60_000, perDevice: 4, devices: 2 });
  t.notOk(f.isResend({ ...event(1), ts: 1000 }, 1000), 'first time');
  t.ok(f.isResend({ ...event(1), ts: 5000 }, 5000), 'again, stamped later: a resend');
  t.notOk(f.isResend(event(1, 0.2), 6000), 'same seq, other content: a device that restarted its counter');
  t.notOk(f.isResend(event(1, 0.1, 'd2'), 6000), 'another device');
  t.notOk(f.isResend(event(undefined), 6000), 'without seq nothing can be recognised');
  t.notOk(f.isResend(event(undefined), 6000), 'so a repeat without seq passes');
  t.notOk(f.isResend(event(2), 70_000), 'new seq');
  t.notOk(f.isResend(event(1), 70_000), 'seq 1 again after the window: new');
});

t.test('bounded: per device the last perDevice seqs, and at most `devices` devices', async (t) => {
  const f = new ResendFilter({ ms: 60_000, perDevice: 4, devices: 2 });
  for (let seq = 1; seq <= 5; seq++) f.isResend(event(seq), seq);
  t.notOk(f.isResend(event(1), 10), 'seq 1 fell out of the last 4');
  t.ok(f.isResend(event(5), 10));
  f.isResend(event(1, 0.1, 'd2'), 11);
  f.isResend(event(1, 0.1, 'd3'), 12);
  t.notOk(f.isResend(event(5), 13), 'd1, the oldest device, was forgotten when d3 came');
});
