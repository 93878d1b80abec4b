import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseConfig, parseRules } from '../../src/config/load.js';
import { deviceAttributes } from '../../src/config/device-attributes.js';
import { replay } from '../../src/cli/replay.js';
import type { AlarmTransition } from '../../src/core/alarm.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

// The shipped template, on two lines of a conveyor and a presence sensor each.
const rules = parseRules(readFileSync('gateway-config/rules/clogging.yaml', 'utf8'), 'clogging.yaml');
const { devices } = parseConfig(
  [
    'version: 1',
    'devices:',
    '  - { id: conv-1, line: L1, tags: { role: conveyor } }',
    '  - { id: pres-1, line: L1, tags: { role: presence } }',
    '  - { id: conv-2, line: L2, tags: { role: conveyor } }',
    '  - { id: pres-2, line: L2, tags: { role: presence } }',
    '  - { id: loose }',
  ].join('\n'),
);
const attributes = deviceAttributes(devices);

const ev = (device: string, ts: number, label: string): InferenceEvent => ({
  device,
  ts,
  model: { name: device.startsWith('conv') ? 'conveyor-state' : 'presence', version: '1' },
  label,
});

/** Alarm transitions of the template over the events, in time order. */
function alarms(events: InferenceEvent[]): AlarmTransition[] {
  const out: AlarmTransition[] = [];
  const stopped = replay(
    rules,
    [...events].sort((a, b) => a.ts - b.ts),
    (o) => {
      if (o.type === 'alarm') out.push(o.alarm);
    },
    { attributes },
  );
  if (stopped.length > 0) throw new Error(stopped[0]!.error);
  return out;
}

/** Normal traffic every 2 s on every device from `from` to `to`: what a running line sends between the two events. */
function background(from: number, to: number): InferenceEvent[] {
  const out: InferenceEvent[] = [];
  for (let ts = from; ts < to; ts += 2000) {
    out.push(ev('conv-1', ts + 100, 'running'), ev('pres-1', ts + 300, 'person'));
    out.push(ev('conv-2', ts + 500, 'running'), ev('pres-2', ts + 700, 'person'));
  }
  return out;
}

t.test('clogging: one alarm per episode within 10 s, in either order; none for gaps of 11 s or more', async (t) => {
  const episode = 5 * 60_000;
  for (const conveyorFirst of [true, false]) {
    const events: InferenceEvent[] = [];
    const expected: number[] = [];
    for (let gapS = 0; gapS <= 15; gapS++) {
      const at = (gapS + 1) * episode;
      const [first, second] = conveyorFirst
        ? [ev('conv-1', at, 'clogged'), ev('pres-1', at + gapS * 1000, 'nobody')]
        : [ev('pres-1', at, 'nobody'), ev('conv-1', at + gapS * 1000, 'clogged')];
      events.push(first, second, ...background(at - 20_000, at - 1000), ...background(at + 20_000, at + 40_000));
      if (gapS <= 10) expected.push(at + gapS * 1000);
    }
    const raised = alarms(events).filter((a) => a.state === 'raised');
    t.same(
      raised.map((a) => a.ts),
      expected,
      `${conveyorFirst ? 'conveyor' : 'presence'} first: raised at the second event of each episode with a gap of 0–10 s`,
    );
    t.ok(
      raised.every((a) => a.device === 'conv-1' && a.message === 'line L1: conv-1 clogged with nobody present'),
      'the alarm sits on the conveyor and names its line',
    );
  }
});

t.test('clogging: events of two lines never pair, and devices without a line are not correlated', async (t) => {
  const events = [
    ev('conv-1', 10_000, 'clogged'),
    ev('pres-2', 12_000, 'nobody'),
    ev('loose', 13_000, 'nobody'),
    ev('conv-2', 200_000, 'clogged'),
    ev('pres-1', 203_000, 'nobody'),
    ev('pres-2', 205_000, 'nobody'),
    ev('conv-1', 400_000, 'running'),
  ];
  t.same(
    alarms(events).map((a) => `${a.device}:${a.state}:${a.ts}`),
    ['conv-2:raised:205000', 'conv-2:cleared:265000'],
  );
});

t.test('clogging: an episode that lasts keeps one alarm raised; it clears a minute after the last pair', async (t) => {
  const events: InferenceEvent[] = [];
  for (let ts = 0; ts <= 120_000; ts += 1000) events.push(ev('conv-1', ts, 'clogged'), ev('pres-1', ts + 500, 'nobody'));
  events.push(ev('conv-1', 400_000, 'running'));
  t.same(
    alarms(events).map((a) => `${a.state}:${a.ts}`),
    ['raised:500', 'cleared:180500'],
  );
});
