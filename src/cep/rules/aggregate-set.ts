import * as agg from '../operators/aggregates.js';
import type { Aggregator } from '../operators/aggregates.js';
import type { AggregateName } from './language.js';
import type { FieldValue } from './row.js';

type AnyAggregator = Aggregator<unknown, unknown>;

function single(name: AggregateName, ewmaAlpha: number): AnyAggregator {
  const table: Record<AggregateName, () => unknown> = {
    count: () => agg.count,
    sum: () => agg.sum,
    avg: () => agg.avg,
    min: () => agg.min,
    max: () => agg.max,
    stddev: () => agg.stddev,
    rate: () => agg.rate,
    delta: () => agg.delta,
    distinct: () => agg.distinct,
    histogram: () => agg.histogram,
    ewma: () => agg.ewma(ewmaAlpha),
    p50: () => agg.percentile(0.5),
    p90: () => agg.percentile(0.9),
    p95: () => agg.percentile(0.95),
    p99: () => agg.percentile(0.99),
  };
  return table[name]() as AnyAggregator;
}

/**
 * Several aggregates over one window as one Aggregator: its result is the fields of the row the
 * window emits (`avg`, `p95`, … and `histogram.<label>` for the label histogram).
 */
export function aggregateSet(names: AggregateName[], ewmaAlpha: number): Aggregator<unknown[], Record<string, FieldValue>> {
  const parts = names.map((n) => single(n, ewmaAlpha));
  return {
    init: () => parts.map((p) => p.init()),
    add(accs, value, ts) {
      for (let i = 0; i < parts.length; i++) accs[i] = parts[i]!.add(accs[i], value, ts);
      return accs;
    },
    merge: (a, b) => parts.map((p, i) => p.merge(a[i], b[i])),
    result(accs, windowMs) {
      const out: Record<string, FieldValue> = {};
      parts.forEach((p, i) => {
        const r = p.result(accs[i], windowMs);
        const name = names[i]!;
        if (name === 'histogram') {
          for (const [label, n] of Object.entries(r as Record<string, number>)) out[`histogram.${label}`] = n;
        } else out[name] = r as number | undefined;
      });
      return out;
    },
  };
}
