import t, { type Test } from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { cusum, pageHinkley, type ChangePoint } from '../../src/cep/operators/change-detection.js';
import { seededRandom } from '../../src/sim/device-model.js';

interface S {
  k: string;
  v?: number;
}
const keyed = { keyOf: (s: S) => s.k, readingOf: (s: S) => s.v };
const noise = seededRandom(11);
/** n points around `mean` with ±0.05 uniform noise, for key k. */
const series = (k: string, mean: number, n: number): S[] => Array.from({ length: n }, () => ({ k, v: mean + (noise() - 0.5) * 0.1 }));
const detect = (op: ReturnType<typeof pageHinkley<S>>, points: S[]) => lastValueFrom(from(points).pipe(op, toArray()));
const indexOf = (points: S[], change: ChangePoint<S> | undefined) => (change ? points.indexOf(change.event) : -1);

t.test('Page-Hinkley: quiet on a stationary stream, finds a rise shortly after it happens', async (t) => {
  const op = () => pageHinkley({ ...keyed, delta: 0.02, lambda: 1 });
  t.same(await detect(op(), series('a', 0.2, 500)), [], 'no false alarm in 500 stationary points');
  const points = [...series('a', 0.2, 100), ...series('a', 0.6, 100)];
  const [change] = await detect(op(), points);
  t.match(change, { key: 'a', detector: 'page-hinkley', direction: 'up' });
  const at = indexOf(points, change);
  t.ok(at >= 100 && at < 110, `detected at point ${at} (shift at 100)`);
});

t.test('Page-Hinkley down: a confidence drift from 0.9 to 0.6 on one key only', async (t) => {
  const points = [...series('m', 0.9, 60), ...series('n', 0.9, 100), ...series('m', 0.6, 60)];
  const changes = await detect(pageHinkley({ ...keyed, delta: 0.02, lambda: 1, direction: 'down' }), points);
  t.same(
    changes.map((c) => [c.key, c.direction]),
    [['m', 'down']],
  );
});

t.test('CUSUM with a known target and with a target learned from a warm-up', async (t) => {
  const points = [...series('a', 0.2, 50), ...series('a', 0.5, 50)];
  const known = await detect(cusum({ ...keyed, target: 0.2, slack: 0.05, threshold: 0.5 }), points);
  const learned = await detect(cusum({ ...keyed, slack: 0.05, threshold: 0.5, warmup: 20 }), points);
  for (const [name, changes] of [
    ['known', known],
    ['learned', learned],
  ] as const) {
    const at = indexOf(points, changes[0]);
    t.ok(at >= 50 && at < 56, `${name} target: detected at ${at}`);
  }
  t.same(await detect(cusum({ ...keyed, target: 0.2, slack: 0.05, threshold: 0.5 }), series('a', 0.2, 500)), [], 'no false alarm');
  const down = await detect(cusum({ ...keyed, target: 0.9, slack: 0.05, threshold: 0.5, direction: 'down' }), series('d', 0.5, 10));
  t.match(down[0], { direction: 'down', detector: 'cusum' });
});

t.test('marbles: statistics restart after a change; empty, error, never-ending, unsubscribe, throwing callback', async (t) => {
  const v: Record<string, S> = { l: { k: 'A', v: 0 }, h: { k: 'A', v: 1 }, x: { k: 'A' } };
  const sched = (t: Test) => new TestScheduler((a, e) => t.same(a, e));
  sched(t).run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const op = cusum({ ...keyed, target: 0, slack: 0.1, threshold: 1 });
    const show = map((c: ChangePoint<S>) => `${c.key}${c.points}`);
    expectObservable(cold('hhxhh|', v).pipe(op, show)).toBe('-a--b|', { a: 'A2', b: 'A2' });
    expectObservable(cold('|', v).pipe(op, show)).toBe('|');
    expectObservable(cold('l#', v).pipe(op, show)).toBe('-#');
    expectObservable(cold('hh-', v).pipe(op, show)).toBe('-a-', { a: 'A2' });
    const source = hot('h-hh', v);
    expectObservable(source.pipe(op, show), '^-!').toBe('---');
    expectSubscriptions(source.subscriptions).toBe('^-!');
    const readingOf = (): number => {
      throw new Error('bad value');
    };
    expectObservable(cold('h', v).pipe(pageHinkley({ ...keyed, readingOf, delta: 0, lambda: 1 }), show)).toBe(
      '#',
      undefined,
      new Error('bad value'),
    );
  });
});
