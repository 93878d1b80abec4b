import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { replay, replayLine } from '../../src/cli/replay.js';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { rule } from '../../src/cep/rules/builder.js';
import type { EngineCheckpoint } from '../../src/cep/rules/checkpoint.js';
import type { RuleSpec } from '../../src/cep/rules/language.js';
import { parseRules } from '../../src/config/load.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/state/rule-snapshot.js';
import { seededRandom } from '../../src/sim/device-model.js';

const TEMPLATES = 'gateway-config/rules';
const templates = readdirSync(TEMPLATES)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseRules(readFileSync(`${TEMPLATES}/${f}`, 'utf8'), f));

/** Beside the templates: an open window with derived rows, a session window, a pattern with many partial matches, a trend. */
const extra: RuleSpec[] = [
  rule('window-avg')
    .window({ type: 'tumbling', size: '20s', field: 'anomaly', aggregates: ['avg', 'max', 'count'] })
    .derived({})
    .build(),
  rule('sessions')
    .window({ type: 'session', gap: '3s', aggregates: ['count'] })
    .derived({})
    .build(),
  rule('rise')
    .pattern({
      seq: [
        { name: 'a', where: { field: 'anomaly', gte: 0.5 } },
        { name: 'b', where: { field: 'anomaly', gte: { step: 'a', field: 'anomaly', of: 'last', plus: 0.1 } }, timesOrMore: 2 },
      ],
      within: '15s',
      skip: 'noSkip',
    })
    .derived({})
    .build(),
  rule('pulse')
    .pattern({
      seq: [
        { name: 'hi', where: { field: 'anomaly', gte: 0.8 } },
        { name: 'lo', where: { field: 'anomaly', lt: 0.2 } },
      ],
      within: '4s',
    })
    .alarm({ severity: 100, clearAfter: '10s' })
    .build(),
];
const rules = [...templates, ...extra];
const attributes = new Map([
  ['c1', { line: 'L1', 'tags.role': 'conveyor' }],
  ['p1', { line: 'L1', 'tags.role': 'presence' }],
]);

/** 12 devices over 10 minutes, with anomaly episodes, silences, a late model version and clogging on line L1. */
function recording(): InferenceEvent[] {
  const random = seededRandom(21);
  const events: InferenceEvent[] = [];
  const devices = ['c1', 'p1', ...Array.from({ length: 10 }, (_, i) => `m${i}`)];
  for (let tick = 0; tick < 1200; tick++) {
    for (const [k, device] of devices.entries()) {
      // Each device sleeps for 50 s once, at its own moment, so device-silent and the rate SLO fire.
      if (tick >= 100 + k * 80 && tick < 200 + k * 80) continue;
      if (random() < 0.2) continue;
      const episode = Math.floor(tick / 150) % 2 === 1 && k % 3 === 0;
      const anomaly = episode ? 0.6 + random() * 0.4 : random() * 0.4;
      const label =
        device === 'c1' ? (episode ? 'clogged' : 'running') : device === 'p1' ? (random() < 0.5 ? 'nobody' : 'worker') : 'normal';
      events.push({
        device,
        ts: 1_700_000_000_000 + tick * 500 + k,
        seq: tick,
        model: { name: 'motor', version: device === 'm7' && tick < 900 ? '1.0.0' : '1.1.0' },
        label,
        anomaly,
        scores: { [label]: 0.6 + random() * 0.4 },
      });
    }
  }
  return events;
}

/**
 * Outputs by rule and device, each in order. Devices are independent keys, so their relative order
 * at one instant means nothing: when the input ends, open windows close in the order the state
 * table holds their devices, and a restored table holds them in another order.
 */
function byRule(lines: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of lines) {
    const o = JSON.parse(line) as { rule: string; device: string };
    (out[`${o.rule} ${o.device}`] ??= []).push(line);
  }
  return out;
}

t.test('a run cut after a snapshot and continued from it gives what the uninterrupted run gives', async (t) => {
  const events = recording();
  const whole: string[] = [];
  replay(rules, events, (o) => whole.push(replayLine(o)), { attributes });
  t.ok(whole.length > 100, `the uninterrupted run has work to compare: ${whole.length} outputs`);

  for (const cut of [0.37, 0.5, 0.81].map((f) => Math.floor(events.length * f))) {
    const first: string[] = [];
    let checkpoint: EngineCheckpoint | undefined;
    let taken = 0;
    replay(rules, events.slice(0, cut), (o) => first.push(replayLine(o)), {
      attributes,
      checkpoint: (cp) => ((checkpoint = cp), (taken = first.length)),
    });
    // Through the file format, as a restart reads it.
    const read = decodeSnapshot(Buffer.concat(encodeSnapshot({ ...checkpoint!, gateway: 'gw', writtenAt: 0 })), 'gw');
    t.ok(read.ok, 'the snapshot reads back');
    if (!read.ok) return;
    const rest: string[] = [];
    replay(rules, events.slice(cut), (o) => rest.push(replayLine(o)), { attributes, from: read.body });
    t.same(byRule([...first.slice(0, taken), ...rest]), byRule(whole), `cut at event ${cut} of ${events.length}`);
  }
  const ruleIds = new Set(whole.map((l) => (JSON.parse(l) as { rule: string }).rule));
  for (const id of ['anomaly-persistence', 'device-silent', 'inference-rate-slo', 'model-version-mismatch', 'window-avg', 'rise', 'pulse'])
    t.ok(ruleIds.has(id), `${id} has outputs in the comparison`);
});

t.test('restore: an unchanged rule continues, a changed one starts clean, a lost one is named, a damaged state is refused', async (t) => {
  const persist = (atLeast: number): RuleSpec => rule('p').persistence({ atLeast, n: 2, m: 3, clearAfter: 2 }).alarm({}).build();
  const other = rule('q').absence({ timeout: '5s' }).alarm({}).build();
  const gone = rule('gone').absence({ timeout: '5s' }).alarm({}).build();
  const engine = new RuleEngine([persist(0.7), other, gone]);
  const outputs: string[] = [];
  const input = new Subject<InferenceEvent>();
  engine.connect(input).subscribe((o) => o.type === 'alarm' && outputs.push(`${o.alarm.rule}:${o.alarm.state}`));
  const event = (anomaly: number): InferenceEvent => ({ device: 'd', ts: 1, model: { name: 'm', version: '1' }, anomaly });
  input.next(event(0.9));
  input.next(event(0.9));
  t.same(outputs, ['p:raised']);
  const cp = engine.checkpoint();
  t.ok(cp.rules.every((r) => r.state.byteLength > 0));
  t.match(engine.status(), [{ id: 'p', stateBytes: Number }, { id: 'q', stateBytes: Number }, { id: 'gone' }]);

  const damaged: EngineCheckpoint = { ...cp, rules: cp.rules.map((r) => (r.id === 'q' ? { ...r, state: new Uint8Array([1, 2, 3]) } : r)) };
  const next = new RuleEngine([persist(0.7), other]);
  const report = next.restore(damaged);
  t.same(report.continued, ['p']);
  t.same(report.gone, ['gone']);
  t.equal(report.unreadable[0]?.id, 'q');
  t.same(next.raisedBy('p'), ['d'], 'the raised alarm came along');
  const after: string[] = [];
  const input2 = new Subject<InferenceEvent>();
  next.connect(input2).subscribe((o) => o.type === 'alarm' && after.push(`${o.alarm.rule}:${o.alarm.state}`));
  input2.next(event(0.1));
  input2.next(event(0.1));
  t.same(after, ['p:cleared'], 'an alarm raised before the restart clears after it, without being raised again');

  const changed = new RuleEngine([persist(0.5)]).restore(cp);
  t.same(changed.changed, ['p'], 'a new threshold is a new shape');
  t.same(changed.continued, []);
});

t.test('time stands still between the checkpoint and the restore: a deadline keeps the time it had left', async (t) => {
  const silent = rule('silent').absence({ timeout: '5s' }).alarm({}).build();
  const before = new VirtualTimeScheduler();
  const engine = new RuleEngine([silent], {}, before);
  const input = new Subject<InferenceEvent>();
  engine.connect(input).subscribe(() => undefined);
  input.next({ device: 'd', ts: 0, model: { name: 'm', version: '1' } });
  before.maxFrames = 3000;
  before.flush();
  before.frame = 3000;
  const cp = engine.checkpoint();
  t.equal(cp.at, 3000);

  // The gateway comes back a minute later.
  const after = new VirtualTimeScheduler();
  after.frame = 60_000;
  const restored = new RuleEngine([silent], {}, after);
  t.same(restored.restore(cp).continued, ['silent']);
  const raised: number[] = [];
  restored.connect(new Subject<InferenceEvent>()).subscribe((o) => o.type === 'alarm' && raised.push(after.now()));
  after.maxFrames = 61_999;
  after.flush();
  t.same(raised, [], 'not silent at once: 2 s were left');
  after.maxFrames = 62_001;
  after.flush();
  t.same(raised, [62_000], 'silent when its 2 s have passed');
});
