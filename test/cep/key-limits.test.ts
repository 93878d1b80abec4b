import t, { type Test } from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { Subject } from 'rxjs';
import { keyedStep, type EvictionReason, type KeyLimits } from '../../src/cep/operators/keyed-step.js';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { rule as build } from '../../src/cep/rules/builder.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import type { AlarmTransition } from '../../src/core/alarm.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';

/** Counts events per key; emits "<key><count>", and "<key>-" when a key is forgotten. */
function counter(limits: KeyLimits, evictions: string[]) {
  return keyedStep<string, { n: number }, string>(
    {
      keyOf: (k) => k,
      init: () => ({ n: 0 }),
      step: (s, k) => `${k}${++s.n}`,
      evicted: (_s, k) => `${k}-`,
    },
    undefined,
    { ...limits, onEvict: (k: string, reason: EvictionReason) => evictions.push(`${k}:${reason}`) },
  );
}
const scheduler = (t: Test) => new TestScheduler((actual, expected) => t.same(actual, expected));

t.test('maxKeys with evict-oldest forgets the least recently seen key', async (t) => {
  const evictions: string[] = [];
  scheduler(t).run(({ cold, expectObservable }) => {
    // a is seen again before c arrives, so b is the least recently seen and goes.
    expectObservable(cold('abac-----b', { a: 'a', b: 'b', c: 'c' }).pipe(counter({ maxKeys: 2 }, evictions))).toBe('xyz(wv)--(uq)', {
      x: 'a1',
      y: 'b1',
      z: 'a2',
      w: 'b-',
      v: 'c1',
      u: 'a-',
      q: 'b1',
    });
  });
  t.same(evictions, ['b:overflow', 'a:overflow']);
});

t.test("maxKeys with drop-new ignores new keys' events and counts them", async (t) => {
  const evictions: string[] = [];
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(cold('abca', { a: 'a', b: 'b', c: 'c' }).pipe(counter({ maxKeys: 2, overflow: 'drop-new' }, evictions))).toBe('xy-z', {
      x: 'a1',
      y: 'b1',
      z: 'a2',
    });
  });
  t.same(evictions, ['c:dropped']);
});

t.test('ttl forgets keys not seen for that long, with one wake-up', async (t) => {
  const evictions: string[] = [];
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(cold('ab-a-------a', { a: 'a', b: 'b' }).pipe(counter({ ttlMs: 5 }, evictions))).toBe('xy-z--w-v--u----t', {
      x: 'a1',
      y: 'b1',
      z: 'a2',
      w: 'b-',
      v: 'a-',
      u: 'a1',
      t: 'a-',
    });
  });
  t.same(evictions, ['b:ttl', 'a:ttl', 'a:ttl']);
});

t.test('a rule with a state cap clears the alarm of a device it forgets, and reports the eviction', async (t) => {
  const rule = build('r')
    .limits({ maxKeys: 1, overflow: 'evict-oldest' })
    .persistence({ atLeast: 0.5, n: 1, m: 1, clearAfter: 1 })
    .alarm({ severity: 10 })
    .build();
  const evicted: string[] = [];
  const engine = new RuleEngine([rule], { evicted: (r, reason) => evicted.push(`${r}:${reason}`) });
  const input = new Subject<InferenceEvent>();
  const out: AlarmTransition[] = [];
  engine.connect(input).subscribe((o) => o.type === 'alarm' && out.push(o.alarm));
  input.next({ device: 'a', ts: 10, model: { name: 'm', version: '1' }, anomaly: 0.9 });
  input.next({ device: 'b', ts: 20, model: { name: 'm', version: '1' }, anomaly: 0.1 });
  t.same(
    out.map((a) => `${a.device}:${a.state}@${a.ts}`),
    ['a:raised@10', 'a:cleared@10'],
  );
  t.match(out[1]?.message, /dropped from the rule state \(overflow\); alarm reset/);
  t.same(evicted, ['r:overflow']);
  t.same(engine.status()[0]?.keys, 1);
});

t.test('rule state limits in YAML: durations like 1h, and a bad one named with its line', async (t) => {
  const base =
    'rules:\n  - id: r\n    pipeline: [{ persistence: { atLeast: 0.5, n: 1, m: 1, clearAfter: 1 } }]\n    outputs: { alarm: {} }\n\n\n\n    state:\n';
  const ok = parseConfig(base + '      maxKeys: 5000\n      ttl: 1h\n');
  t.same(ok.rules[0]?.state, { maxKeys: 5000, overflow: 'evict-oldest', ttl: 3_600_000 });
  t.same(parseConfig(base + '      ttl: 250\n').rules[0]?.state?.ttl, 250, 'a plain number is milliseconds');
  try {
    parseConfig(base + '      ttl: 5 mins\n', 'rules.yaml');
    t.fail('expected a config error');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.match((err as ConfigError).problems, [{ path: 'rules.0.state.ttl', line: 9, message: /bad duration '5 mins'.*30s or 5m/ }]);
  }
});
