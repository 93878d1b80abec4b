import t, { type Test } from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { map, type Observable } from 'rxjs';
import { hysteresis, type LevelChange } from '../../src/cep/operators/hysteresis.js';

interface Reading {
  key: string;
  v?: number;
}
/** h = 0.9 (above raise), m = 0.6 (between), l = 0.2 (below clear) for key A; H/L for key B; x = no value. */
const values: Record<string, Reading> = {
  h: { key: 'A', v: 0.9 },
  m: { key: 'A', v: 0.6 },
  l: { key: 'A', v: 0.2 },
  H: { key: 'B', v: 0.9 },
  L: { key: 'B', v: 0.2 },
  x: { key: 'A' },
};
const options = { raiseAt: 0.8, clearAt: 0.3, keyOf: (r: Reading) => r.key, readingOf: (r: Reading) => r.v };
const show = (o: Observable<LevelChange<Reading>>) => o.pipe(map((c) => `${c.key}${c.state === 'raised' ? 'r' : 'c'}`));
const scheduler = (t: Test) => new TestScheduler((actual, expected) => t.same(actual, expected));

t.test('raises above raiseAt, holds between the levels, clears at clearAt', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('mhmmhlmh|', values).pipe(hysteresis(options)))).toBe('-a---b-a|', { a: 'Ar', b: 'Ac' });
  });
});

t.test('keys are independent; events without a value are skipped', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('hxHlL|', values).pipe(hysteresis(options)))).toBe('a-bcd|', { a: 'Ar', b: 'Br', c: 'Ac', d: 'Bc' });
  });
});

t.test('empty, error, never-ending, early unsubscribe', async (t) => {
  scheduler(t).run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    expectObservable(show(cold('|', values).pipe(hysteresis(options)))).toBe('|');
    expectObservable(show(cold('h#', values).pipe(hysteresis(options)))).toBe('a#', { a: 'Ar' });
    expectObservable(show(cold('h-', values).pipe(hysteresis(options)))).toBe('a-', { a: 'Ar' });
    const source = hot('-h-l', values);
    expectObservable(show(source.pipe(hysteresis(options))), '^-!').toBe('-a-', { a: 'Ar' });
    expectSubscriptions(source.subscriptions).toBe('^-!');
  });
});

t.test('a throwing value function errors the stream; bad levels are refused', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const readingOf = (): number => {
      throw new Error('no value');
    };
    expectObservable(show(cold('h', values).pipe(hysteresis({ ...options, readingOf })))).toBe('#', undefined, new Error('no value'));
  });
  t.throws(() => hysteresis({ ...options, clearAt: 0.9 }), RangeError);
});
