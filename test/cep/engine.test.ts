import t from 'tap';
import { Subject } from 'rxjs';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import type { RuleConfig } from '../../src/cep/rules/schema.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import type { AlarmTransition } from '../../src/core/alarm.js';

const rule = (id: string, extra: Partial<RuleConfig> = {}): RuleConfig => ({
  id,
  kind: 'anomaly-persistence',
  threshold: 0.5,
  n: 2,
  m: 2,
  clearAfter: 1,
  severity: 500,
  ...extra,
});
const ev = (device: string, anomaly: number): InferenceEvent => ({ device, ts: 0, model: { name: 'm', version: '1' }, anomaly });

function harness(rules: RuleConfig[]) {
  const evaluated: string[] = [];
  const failed: string[] = [];
  const engine = new RuleEngine(rules, { evaluated: (r) => evaluated.push(r), failed: (r) => failed.push(r) });
  const input = new Subject<InferenceEvent>();
  const out: AlarmTransition[] = [];
  const sub = engine.connect(input).subscribe((a) => out.push(a));
  return { engine, input, out, evaluated, failed, sub };
}

t.test('every rule sees every event; device filters apply', async (t) => {
  const h = harness([rule('all'), rule('only-b', { devices: ['b'] })]);
  for (const e of [ev('a', 0.9), ev('a', 0.9), ev('b', 0.9), ev('b', 0.9)]) h.input.next(e);
  t.same(
    h.out.map((a) => `${a.rule}:${a.device}`),
    ['all:a', 'all:b', 'only-b:b'],
  );
  t.same(h.evaluated.filter((r) => r === 'only-b').length, 2);
  t.same(
    h.engine.status().map((s) => [s.id, s.state, s.keys]),
    [
      ['all', 'running', 2],
      ['only-b', 'running', 1],
    ],
  );
});

t.test('an unchanged rule keeps its state across a swap; a changed one restarts; removed ones stop', async (t) => {
  const h = harness([rule('keep'), rule('change'), rule('drop')]);
  h.input.next(ev('a', 0.9));
  const report = h.engine.replaceRules([rule('keep'), rule('change', { threshold: 0.6 }), rule('new')]);
  t.same(report, { kept: ['keep'], restarted: ['change', 'new'], removed: ['drop'] });
  h.input.next(ev('a', 0.9));
  t.same(
    h.out.map((a) => a.rule),
    ['keep'],
    'only the kept rule had the first hit in its window',
  );
  h.input.next(ev('a', 0.9));
  t.same(h.out.map((a) => a.rule).sort(), ['change', 'keep', 'new']);
});

t.test('alarms of a restarted or removed rule are cleared; a kept rule keeps its alarm', async (t) => {
  const h = harness([rule('keep'), rule('change'), rule('drop')]);
  h.input.next(ev('a', 0.9));
  h.input.next(ev('a', 0.9));
  t.same(h.out.map((a) => `${a.rule}:${a.state}`).sort(), ['change:raised', 'drop:raised', 'keep:raised']);
  h.out.length = 0;
  h.engine.replaceRules([rule('keep'), rule('change', { severity: 900 })]);
  t.same(h.out.map((a) => `${a.rule}:${a.device}:${a.state}:${a.severity}`).sort(), ['change:a:cleared:500', 'drop:a:cleared:500']);
  t.match(h.out[0], { message: /alarm reset/ });
});

t.test('a rule that throws stops alone and is reported', async (t) => {
  const h = harness([rule('good'), rule('bad')]);
  const poisoned = ev('a', 0.9);
  let reads = 0;
  Object.defineProperty(poisoned, 'device', {
    get: () => {
      reads++;
      // The 'bad' rule is the second subscriber; the filter of the first reads device once.
      if (reads === 4) throw new Error('rule bug');
      return 'a';
    },
  });
  h.input.next(ev('a', 0.9));
  h.input.next(poisoned);
  h.input.next(ev('a', 0.9));
  const status = Object.fromEntries(h.engine.status().map((s) => [s.id, s.state]));
  t.equal(status.good, 'running');
  t.equal(status.bad, 'stopped-by-error');
  t.same(h.failed, ['bad']);
  t.ok(h.out.some((a) => a.rule === 'good'));
  const again = h.engine.replaceRules([rule('good'), rule('bad')]);
  t.same(again.restarted, ['bad'], 'a stopped rule restarts on the next swap');
});

t.test('disconnecting stops input, output and every rule pipeline (and so its timers)', async (t) => {
  const h = harness([rule('r'), rule('limited', { state: { maxKeys: 10, overflow: 'evict-oldest', ttl: 3_600_000 } })]);
  h.input.next(ev('a', 0.1));
  h.sub.unsubscribe();
  const active = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === 'Timeout');
  t.same(active, [], 'no TTL timer left behind');
  h.input.next(ev('a', 0.9));
  h.input.next(ev('a', 0.9));
  t.same(h.out, []);
});
