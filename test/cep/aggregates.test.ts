import t from 'tap';
import * as agg from '../../src/cep/operators/aggregates.js';
import type { Aggregator } from '../../src/cep/operators/aggregates.js';
import { seededRandom } from '../../src/sim/device-model.js';

function fold<A, R>(a: Aggregator<A, R>, values: (number | string)[], windowMs = 1000): R {
  let acc = a.init();
  values.forEach((v, i) => (acc = a.add(acc, v, i)));
  return a.result(acc, windowMs);
}
function foldMerged<A, R>(a: Aggregator<A, R>, left: number[], right: number[]): R {
  let l = a.init();
  let r = a.init();
  left.forEach((v, i) => (l = a.add(l, v, i)));
  right.forEach((v, i) => (r = a.add(r, v, left.length + i)));
  return a.result(a.merge(l, r), 1000);
}

const xs = [2, 4, 4, 4, 5, 5, 7, 9];

t.test('count, sum, avg, min, max, stddev, rate', async (t) => {
  t.equal(fold(agg.count, xs), 8);
  t.equal(fold(agg.sum, xs), 40);
  t.equal(fold(agg.avg, xs), 5);
  t.equal(fold(agg.min, xs), 2);
  t.equal(fold(agg.max, xs), 9);
  t.ok(Math.abs(fold(agg.stddev, xs)! - Math.sqrt(32 / 7)) < 1e-12);
  t.equal(fold(agg.rate, xs, 4000), 2, '8 events in 4 s');
  t.equal(fold(agg.rate, xs, 0), 0);
  for (const a of [agg.avg, agg.min, agg.max, agg.stddev])
    t.equal(fold(a as Aggregator<unknown, unknown>, []), undefined, 'empty is undefined');
  t.equal(fold(agg.stddev, [3]), undefined, 'one value has no sample deviation');
});

t.test('merges equal the aggregate of the union', async (t) => {
  for (const [name, a] of Object.entries({
    count: agg.count,
    sum: agg.sum,
    avg: agg.avg,
    min: agg.min,
    max: agg.max,
    stddev: agg.stddev,
    distinct: agg.distinct,
  })) {
    const whole = fold(a as Aggregator<unknown, unknown>, xs);
    const merged = foldMerged(a as Aggregator<unknown, unknown>, xs.slice(0, 3), xs.slice(3));
    t.ok(typeof whole === 'number' ? Math.abs((merged as number) - whole) < 1e-12 : merged === whole, name);
  }
  t.same(foldMerged(agg.histogram, [1, 2], [2, 3]), { 1: 1, 2: 2, 3: 1 });
  t.equal(agg.avg.merge(agg.avg.init(), agg.avg.init()).n, 0);
});

t.test('delta is last minus first by event time, even out of order; histogram and distinct count labels', async (t) => {
  let acc = agg.delta.init();
  for (const [v, ts] of [
    [5, 20],
    [1, 10],
    [9, 30],
    [7, 25],
  ] as const)
    acc = agg.delta.add(acc, v, ts);
  t.equal(agg.delta.result(acc, 0), 8);
  t.equal(agg.delta.result(agg.delta.merge(agg.delta.init(), acc), 0), 8);
  t.equal(fold(agg.delta, []), undefined);
  t.same(fold(agg.histogram, ['ok', 'wear', 'ok']), { ok: 2, wear: 1 });
  t.equal(fold(agg.distinct, ['ok', 'wear', 'ok']), 2);
});

t.test('ewma weights recent values; the larger side wins a merge', async (t) => {
  const e = agg.ewma(0.5);
  t.equal(fold(e, [0, 0, 8]), 4);
  t.equal(fold(e, []), undefined);
  t.equal(foldMerged(e, [1, 1, 1], [9]), 1);
  t.throws(() => agg.ewma(0), RangeError);
});

t.test('P² percentile stays within 2% of the true quantile on 20,000 samples, with 5 markers', async (t) => {
  const rand = seededRandom(3);
  const samples = Array.from({ length: 20_000 }, () => rand());
  for (const p of [0.5, 0.9, 0.99]) {
    const estimate = fold(agg.percentile(p), samples)!;
    t.ok(Math.abs(estimate - p) < 0.02, `p${p * 100}: ${estimate}`);
  }
  t.equal(fold(agg.percentile(0.5), [3, 1, 2]), 2, 'exact below five samples');
  t.equal(fold(agg.percentile(0.9), []), undefined);
  const skewed = Array.from({ length: 5000 }, () => -Math.log(rand()));
  const median = fold(agg.percentile(0.5), skewed)!;
  t.ok(Math.abs(median - Math.LN2) < 0.05, `exponential median ${median} ≈ ln 2`);
  t.throws(() => agg.percentile(1), RangeError);
  t.equal(foldMerged(agg.percentile(0.5), [1, 2, 3], [10]), 2, 'the larger side wins a merge');
});
