import t, { type Test } from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { from, lastValueFrom, map, toArray, type Observable } from 'rxjs';
import { trend, type Trend } from '../../src/cep/operators/trend.js';
import { seededRandom } from '../../src/sim/device-model.js';

interface P {
  k: string;
  t: number;
  y?: number;
}
const base = { keyOf: (p: P) => p.k, readingOf: (p: P) => p.y, timeOf: (p: P) => p.t };
const run = (points: P[], window = 10, threshold?: number) =>
  lastValueFrom(from(points).pipe(trend({ ...base, window, threshold }), toArray()));
const scheduler = (t: Test) => new TestScheduler((actual, expected) => t.same(actual, expected));
const show = (o: Observable<Trend<P>>) => o.pipe(map((r) => `${r.key}:${r.slopePerSecond.toFixed(2)}`));

t.test('slope per second, fitted value and time to threshold', async (t) => {
  const out = await run(
    [
      { k: 'a', t: 0, y: 1 },
      { k: 'a', t: 1000, y: 2 },
      { k: 'a', t: 2000, y: 3 },
    ],
    10,
    5,
  );
  t.equal(out.length, 2, 'a result from the second point on');
  t.match(out[1], { key: 'a', points: 3, timeToThresholdMs: 2000 });
  t.equal(out[1]!.slopePerSecond, 1);
  t.equal(out[1]!.fitted, 3);
});

t.test('the window slides; flat or falling lines never reach the threshold; already above is 0', async (t) => {
  const out = await run(
    [
      { k: 'a', t: 0, y: 0 },
      { k: 'a', t: 1000, y: 5 },
      { k: 'a', t: 2000, y: 5 },
    ],
    2,
    4,
  );
  t.equal(out[1]!.slopePerSecond, 0, 'only the last two points count');
  t.equal(out[1]!.timeToThresholdMs, 0, 'fitted 5 ≥ threshold 4');
  const falling = await run(
    [
      { k: 'b', t: 0, y: 3 },
      { k: 'b', t: 1000, y: 2 },
    ],
    5,
    4,
  );
  t.equal(falling[0]!.timeToThresholdMs, undefined);
  t.notOk(
    'timeToThresholdMs' in
      (
        await run([
          { k: 'c', t: 0, y: 1 },
          { k: 'c', t: 1000, y: 2 },
        ])
      )[0]!,
    'no threshold, no estimate',
  );
});

t.test('points at one instant or without a value give no line; epoch-ms times keep precision', async (t) => {
  t.same(
    await run([
      { k: 'a', t: 5, y: 1 },
      { k: 'a', t: 5, y: 2 },
      { k: 'a', t: 9 },
    ]),
    [],
  );
  const epoch = 1_763_800_000_000;
  const rising = Array.from({ length: 50 }, (_, i) => ({ k: 'm', t: epoch + i * 60_000, y: 0.1 + 0.001 * i }));
  const last = (await run(rising, 50, 0.5)).at(-1)!;
  t.ok(Math.abs(last.slopePerSecond - 0.001 / 60) < 1e-12, `slope ${last.slopePerSecond}`);
  t.ok(Math.abs(last.timeToThresholdMs! - ((0.5 - 0.149) / 0.001) * 60_000) < 1, `RUL ${last.timeToThresholdMs} ms`);
});

t.test('running sums match an exact two-pass fit over a long stream (many re-bases)', async (t) => {
  const noise = seededRandom(5);
  const epoch = 1_763_800_000_000;
  let y = 0.3;
  const points = Array.from({ length: 5000 }, (_, i) => ({
    k: 'w',
    t: epoch + i * 500 + Math.floor(noise() * 200),
    y: (y += (noise() - 0.5) * 0.01),
  }));
  const results = await run(points, 20);
  let worst = 0;
  results.forEach((r, i) => {
    const last = points.slice(Math.max(0, i + 2 - 20), i + 2);
    const xs = last.map((p) => (p.t - epoch) / 1000);
    const ys = last.map((p) => p.y!);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const slope = xs.reduce((a, x, j) => a + (x - mx) * (ys[j]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    worst = Math.max(worst, Math.abs(r.slopePerSecond - slope) / (Math.abs(slope) + 1e-9));
  });
  t.equal(results.length, 4999);
  t.ok(worst < 1e-6, `worst relative slope error ${worst}`);
});

t.test('marbles: keys, empty, error, never-ending, early unsubscribe, throwing callback', async (t) => {
  const v: Record<string, P> = {
    a: { k: 'A', t: 0, y: 0 },
    b: { k: 'A', t: 1000, y: 2 },
    c: { k: 'B', t: 0, y: 1 },
    d: { k: 'B', t: 2000, y: 0 },
  };
  scheduler(t).run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const op = trend({ ...base, window: 3 });
    expectObservable(show(cold('acbd|', v).pipe(op))).toBe('--xy|', { x: 'A:2.00', y: 'B:-0.50' });
    expectObservable(show(cold('|', v).pipe(op))).toBe('|');
    expectObservable(show(cold('a#', v).pipe(op))).toBe('-#');
    expectObservable(show(cold('ab-', v).pipe(op))).toBe('-x-', { x: 'A:2.00' });
    const source = hot('a-b', v);
    expectObservable(show(source.pipe(op)), '^-!').toBe('---');
    expectSubscriptions(source.subscriptions).toBe('^-!');
    const timeOf = (): number => {
      throw new Error('no time');
    };
    expectObservable(show(cold('a', v).pipe(trend({ ...base, window: 3, timeOf })))).toBe('#', undefined, new Error('no time'));
  });
  t.throws(() => trend({ ...base, window: 1 }), RangeError);
});
