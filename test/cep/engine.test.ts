import t from 'tap';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { RuleEngine, type RuleHooks } from '../../src/cep/rules/engine.js';
import { rule as build } from '../../src/cep/rules/builder.js';
import type { RuleSpec } from '../../src/cep/rules/language.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import type { AlarmTransition } from '../../src/core/alarm.js';
import type { RuleOutput } from '../../src/core/rule-output.js';

/** 2-of-2 persistence at 0.5, clearing after one low event. */
const rule = (
  id: string,
  o: { devices?: string[]; atLeast?: number; severity?: number; message?: string; maxKeys?: number } = {},
): RuleSpec => {
  const b = build(id).persistence({ atLeast: o.atLeast ?? 0.5, n: 2, m: 2, clearAfter: 1 });
  if (o.devices) b.input({ devices: o.devices });
  if (o.maxKeys) b.limits({ maxKeys: o.maxKeys, ttl: '1h' });
  return b.alarm({ severity: o.severity ?? 500, ...(o.message ? { message: o.message } : {}) }).build();
};
const ev = (device: string, anomaly: number, ts = 0): InferenceEvent => ({ device, ts, model: { name: 'm', version: '1' }, anomaly });

function harness(rules: RuleSpec[], hooks: RuleHooks = {}, scheduler?: VirtualTimeScheduler) {
  const failed: string[] = [];
  const engine = new RuleEngine(rules, { failed: (r) => failed.push(r), ...hooks }, scheduler);
  const input = new Subject<InferenceEvent>();
  const outputs: RuleOutput[] = [];
  const out: AlarmTransition[] = [];
  const sub = engine.connect(input).subscribe((o) => {
    outputs.push(o);
    if (o.type === 'alarm') out.push(o.alarm);
  });
  return { engine, input, out, outputs, failed, sub };
}

t.test('every rule sees every event; input filters apply; status counts in, out and keys', async (t) => {
  const h = harness([rule('all'), rule('only-b', { devices: ['b'] })]);
  for (const e of [ev('a', 0.9), ev('a', 0.9), ev('b', 0.9), ev('b', 0.9)]) h.input.next(e);
  t.same(
    h.out.map((a) => `${a.rule}:${a.device}`),
    ['all:a', 'all:b', 'only-b:b'],
  );
  t.match(h.engine.status(), [
    { id: 'all', state: 'running', keys: 2, eventsIn: 4, eventsOut: 2 },
    { id: 'only-b', state: 'running', keys: 1, eventsIn: 2, eventsOut: 1 },
  ]);
});

t.test('a swap keeps the state of rules whose shape is unchanged, even with new outputs; others restart', async (t) => {
  const h = harness([rule('keep'), rule('reword'), rule('change'), rule('drop')]);
  h.input.next(ev('a', 0.9));
  const report = h.engine.replaceRules([
    rule('keep'),
    rule('reword', { message: 'new text {value:1}' }),
    rule('change', { atLeast: 0.6 }),
    rule('new'),
  ]);
  t.same(report, { kept: ['keep', 'reword'], restarted: ['change', 'new'], removed: ['drop'] });
  h.input.next(ev('a', 0.9));
  t.same(
    h.out.map((a) => `${a.rule}:${a.message}`),
    ['keep:anomaly ≥ 0.5 in 2 of the last 2 events', 'reword:new text 0.9'],
    'only kept rules had the first hit in their windows; the reworded one uses its new message',
  );
  h.input.next(ev('a', 0.9));
  t.same(h.out.map((a) => a.rule).sort(), ['change', 'keep', 'new', 'reword']);
});

t.test('alarms of a restarted or removed rule are cleared; a kept rule keeps its alarm', async (t) => {
  const h = harness([rule('keep'), rule('change'), rule('drop')]);
  h.input.next(ev('a', 0.9));
  h.input.next(ev('a', 0.9));
  t.same(h.out.map((a) => `${a.rule}:${a.state}`).sort(), ['change:raised', 'drop:raised', 'keep:raised']);
  h.out.length = 0;
  h.engine.replaceRules([rule('keep'), rule('change', { atLeast: 0.7 })]);
  t.same(h.out.map((a) => `${a.rule}:${a.device}:${a.state}`).sort(), ['change:a:cleared', 'drop:a:cleared']);
  t.match(h.out[0], { message: /alarm reset/ });
  h.out.length = 0;
  h.input.next(ev('a', 0.1));
  t.same(
    h.out.map((a) => `${a.rule}:${a.state}`),
    ['keep:cleared'],
    'the kept alarm clears normally; the reset ones are not cleared twice',
  );
});

t.test('a rule that throws stops alone and is reported', async (t) => {
  const bad = build('bad').filter({ field: 'anomaly', gt: 0 }).persistence({ atLeast: 0.5, n: 1, m: 1, clearAfter: 1 }).alarm().build();
  const h = harness([rule('good'), bad]);
  const poisoned = ev('a', 0.9);
  let reads = 0;
  Object.defineProperty(poisoned, 'anomaly', {
    get: () => {
      // good reads anomaly once; bad's filter is the second read.
      if (++reads === 2) throw new Error('rule bug');
      return 0.9;
    },
  });
  h.input.next(ev('a', 0.9));
  h.input.next(poisoned);
  h.input.next(ev('a', 0.9));
  const status = Object.fromEntries(h.engine.status().map((s) => [s.id, s]));
  t.equal(status.good?.state, 'running');
  t.equal(status.bad?.state, 'stopped-by-error');
  t.equal(status.bad?.error, 'rule bug');
  t.same(h.failed, ['bad']);
  t.ok(h.out.some((a) => a.rule === 'good'));
  const again = h.engine.replaceRules([rule('good'), bad]);
  t.same(again.restarted, ['bad'], 'a stopped rule restarts on the next swap');
});

t.test('disconnecting stops input, output and every rule pipeline (and so its timers)', async (t) => {
  const silent = build('silent').absence({ timeout: '30s' }).alarm().build();
  const h = harness([rule('r'), rule('limited', { maxKeys: 10 }), silent]);
  h.input.next(ev('a', 0.1));
  h.sub.unsubscribe();
  const active = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === 'Timeout');
  t.same(active, [], 'no TTL or absence timer left behind');
  h.input.next(ev('a', 0.9));
  h.input.next(ev('a', 0.9));
  t.same(h.out, []);
});

t.test('a rule on processing time uses the scheduler clock, not the event ts', async (t) => {
  const scheduler = new VirtualTimeScheduler();
  const windowed = (id: string, time?: 'processing') => {
    const b = build(id)
      .window({ type: 'tumbling', size: '10s', aggregates: ['count'] })
      .derived();
    if (time) b.processingTime();
    return b.build();
  };
  const h = harness([windowed('event-time'), windowed('processing-time', 'processing')], {}, scheduler);
  scheduler.frame = 5_000;
  h.input.next(ev('a', 0.1, 1_000));
  h.input.next(ev('a', 0.1, 25_000));
  const derived = h.outputs.flatMap((o) => (o.type === 'derived' ? [`${o.event.rule}@${o.event.ts}`] : []));
  t.same(derived, ['event-time@10000'], 'event time closed [0,10s); on processing time both events are in [0,10s)');
  h.input.complete();
  t.same(
    h.outputs.flatMap((o) => (o.type === 'derived' ? [`${o.event.rule}@${o.event.ts}:${o.event.fields.count}`] : [])),
    ['event-time@10000:1', 'event-time@30000:1', 'processing-time@10000:2'],
  );
});

t.test('per-rule latency is sampled, one event in 16', async (t) => {
  const seen: string[] = [];
  const h = harness([rule('r')], { latency: (r, s) => seen.push(`${r}:${s >= 0}`) });
  for (let i = 0; i < 40; i++) h.input.next(ev('a', 0.1));
  t.same(seen, ['r:true', 'r:true']);
});

t.test('message templates print integers exactly and fractions without binary noise', async (t) => {
  const h = harness([rule('r', { message: '{ts} {seq} {anomaly} {value:1} {rule}' })]);
  const e = (ts: number, seq: number): InferenceEvent => ({ ...ev('a', 0.1 + 0.7, ts), seq });
  h.input.next(e(1763900012340, 1234566));
  h.input.next(e(1763900012345, 1234567));
  t.same(
    h.out.map((a) => a.message),
    ['1763900012345 1234567 0.8 0.8 r'],
  );
});
