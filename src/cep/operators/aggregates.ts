/**
 * Incremental aggregates for windows: O(1) memory per window except distinct and histogram
 * (bounded by the number of distinct values) and percentile (5 markers, the P² algorithm).
 * `merge` joins two windows' accumulators (session windows that an event bridges); for EWMA and
 * percentile an exact merge does not exist, so the accumulator with more samples wins.
 */
export interface Aggregator<A, R> {
  init(): A;
  add(acc: A, value: number | string, ts: number): A;
  merge(a: A, b: A): A;
  result(acc: A, windowMs: number): R;
}

const num = (v: number | string): number => (typeof v === 'number' ? v : Number.NaN);

export const count: Aggregator<{ n: number }, number> = {
  init: () => ({ n: 0 }),
  add: (a) => ((a.n += 1), a),
  merge: (a, b) => ({ n: a.n + b.n }),
  result: (a) => a.n,
};

export const sum: Aggregator<{ s: number }, number> = {
  init: () => ({ s: 0 }),
  add: (a, v) => ((a.s += num(v)), a),
  merge: (a, b) => ({ s: a.s + b.s }),
  result: (a) => a.s,
};

/** Welford's running mean and variance; merged with Chan's formula. */
interface Moments {
  n: number;
  mean: number;
  m2: number;
}
const moments: Aggregator<Moments, Moments> = {
  init: () => ({ n: 0, mean: 0, m2: 0 }),
  add(a, v) {
    const x = num(v);
    a.n++;
    const d = x - a.mean;
    a.mean += d / a.n;
    a.m2 += d * (x - a.mean);
    return a;
  },
  merge(a, b) {
    const n = a.n + b.n;
    if (n === 0) return a;
    const d = b.mean - a.mean;
    return { n, mean: a.mean + (d * b.n) / n, m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n };
  },
  result: (a) => a,
};

export const avg: Aggregator<Moments, number | undefined> = { ...moments, result: (a) => (a.n ? a.mean : undefined) };
/** Sample standard deviation (n − 1). */
export const stddev: Aggregator<Moments, number | undefined> = {
  ...moments,
  result: (a) => (a.n > 1 ? Math.sqrt(a.m2 / (a.n - 1)) : undefined),
};

export const min: Aggregator<{ v: number }, number | undefined> = {
  init: () => ({ v: Infinity }),
  add: (a, v) => ((a.v = Math.min(a.v, num(v))), a),
  merge: (a, b) => ({ v: Math.min(a.v, b.v) }),
  result: (a) => (a.v === Infinity ? undefined : a.v),
};

export const max: Aggregator<{ v: number }, number | undefined> = {
  init: () => ({ v: -Infinity }),
  add: (a, v) => ((a.v = Math.max(a.v, num(v))), a),
  merge: (a, b) => ({ v: Math.max(a.v, b.v) }),
  result: (a) => (a.v === -Infinity ? undefined : a.v),
};

/** Events per second over the window's length. */
export const rate: Aggregator<{ n: number }, number> = { ...count, result: (a, windowMs) => (windowMs > 0 ? (a.n * 1000) / windowMs : 0) };

/** Last value minus first value, by event time. */
interface Ends {
  first?: { ts: number; v: number };
  last?: { ts: number; v: number };
}
export const delta: Aggregator<Ends, number | undefined> = {
  init: () => ({}),
  add(a, v, ts) {
    const x = num(v);
    if (!a.first || ts < a.first.ts) a.first = { ts, v: x };
    if (!a.last || ts >= a.last.ts) a.last = { ts, v: x };
    return a;
  },
  merge: (a, b) => ({
    first: !a.first || (b.first && b.first.ts < a.first.ts) ? b.first : a.first,
    last: !a.last || (b.last && b.last.ts >= a.last.ts) ? b.last : a.last,
  }),
  result: (a) => (a.first && a.last ? a.last.v - a.first.v : undefined),
};

export const distinct: Aggregator<Set<number | string>, number> = {
  init: () => new Set(),
  add: (a, v) => a.add(v),
  merge: (a, b) => new Set([...a, ...b]),
  result: (a) => a.size,
};

/** Count per value, e.g. a label histogram. */
export const histogram: Aggregator<Map<string, number>, Record<string, number>> = {
  init: () => new Map(),
  add: (a, v) => a.set(String(v), (a.get(String(v)) ?? 0) + 1),
  merge(a, b) {
    const out = new Map(a);
    for (const [k, n] of b) out.set(k, (out.get(k) ?? 0) + n);
    return out;
  },
  result: (a) => Object.fromEntries(a),
};

export function ewma(alpha: number): Aggregator<{ n: number; v: number }, number | undefined> {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError('ewma alpha must be in (0, 1]');
  return {
    init: () => ({ n: 0, v: 0 }),
    add(a, v) {
      a.v = a.n === 0 ? num(v) : alpha * num(v) + (1 - alpha) * a.v;
      a.n++;
      return a;
    },
    merge: (a, b) => (b.n > a.n ? b : a),
    result: (a) => (a.n ? a.v : undefined),
  };
}

/** Streaming quantile estimate with five markers (Jain & Chlamtac, 1985): bounded memory per window. */
interface P2 {
  n: number;
  q: number[];
  pos: number[];
  want: number[];
}
export function percentile(p: number): Aggregator<P2, number | undefined> {
  if (!(p > 0 && p < 1)) throw new RangeError('percentile p must be in (0, 1)');
  const step = [0, p / 2, p, (1 + p) / 2, 1];
  return {
    init: () => ({ n: 0, q: [], pos: [1, 2, 3, 4, 5], want: [1, 1 + 2 * p, 1 + 4 * p, 3 + 2 * p, 5] }),
    add(a, v) {
      const x = num(v);
      a.n++;
      if (a.n <= 5) {
        a.q.push(x);
        a.q.sort((l, r) => l - r);
        return a;
      }
      const q = a.q;
      let k: number;
      if (x < q[0]!) {
        q[0] = x;
        k = 0;
      } else if (x >= q[4]!) {
        q[4] = x;
        k = 3;
      } else k = q.findIndex((_, i) => i < 4 && x >= q[i]! && x < q[i + 1]!);
      for (let i = k + 1; i < 5; i++) a.pos[i]! += 1;
      for (let i = 0; i < 5; i++) a.want[i]! += step[i]!;
      for (let i = 1; i < 4; i++) adjust(a, i);
      return a;
    },
    merge: (a, b) => (b.n > a.n ? b : a),
    result(a) {
      if (a.n === 0) return undefined;
      if (a.n <= 5) return a.q[Math.min(a.n - 1, Math.max(0, Math.ceil(p * a.n) - 1))];
      return a.q[2];
    },
  };
}

function adjust(a: P2, i: number): void {
  const { q, pos } = a;
  const d = a.want[i]! - pos[i]!;
  if ((d >= 1 && pos[i + 1]! - pos[i]! > 1) || (d <= -1 && pos[i - 1]! - pos[i]! < -1)) {
    const s = Math.sign(d);
    const parabolic =
      q[i]! +
      (s / (pos[i + 1]! - pos[i - 1]!)) *
        ((pos[i]! - pos[i - 1]! + s) * ((q[i + 1]! - q[i]!) / (pos[i + 1]! - pos[i]!)) +
          (pos[i + 1]! - pos[i]! - s) * ((q[i]! - q[i - 1]!) / (pos[i]! - pos[i - 1]!)));
    q[i] = q[i - 1]! < parabolic && parabolic < q[i + 1]! ? parabolic : q[i]! + (s * (q[i + s]! - q[i]!)) / (pos[i + s]! - pos[i]!);
    pos[i]! += s;
  }
}
