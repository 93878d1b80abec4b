// Each single stage of bench:cep written by hand as one function over one record per key: no
// RxJS operator, no engine. Not a product path: the reference a stage's row is measured against.
import type { InferenceEvent } from '../normalise/inference-event.js';

type Step = (e: InferenceEvent) => void;

/** Keyed state in a Map, made on a key's first event. */
function keyed<S>(fresh: (e: InferenceEvent) => S, step: (s: S, e: InferenceEvent) => void): Step {
  const states = new Map<string, S>();
  return (e) => {
    let s = states.get(e.device);
    if (s === undefined) states.set(e.device, (s = fresh(e)));
    step(s, e);
  };
}

/** Two-threshold latch on the anomaly: raised at ≥ 0.7, cleared at ≤ 0.3. */
export const handHysteresis = (): Step =>
  keyed(
    () => ({ raised: false }),
    (s, e) => {
      const a = e.anomaly;
      if (a === undefined) return;
      if (!s.raised && a >= 0.7) s.raised = true;
      else if (s.raised && a <= 0.3) s.raised = false;
    },
  );

/** The last five hit flags, their count, the streak below and the latch: 3 of 5 raise, 5 below in a row clear. */
export interface ThreeOfFive {
  ring: boolean[];
  next: number;
  hits: number;
  below: number;
  active: boolean;
}

export const freshThreeOfFive = (): ThreeOfFive => ({
  ring: [false, false, false, false, false],
  next: 0,
  hits: 0,
  below: 0,
  active: false,
});

/** Returns whether the latch changed. */
export function threeOfFive(s: ThreeOfFive, hit: boolean): boolean {
  if (s.ring[s.next]) s.hits--;
  s.ring[s.next] = hit;
  if (hit) s.hits++;
  s.next = (s.next + 1) % 5;
  s.below = hit ? 0 : s.below + 1;
  if (!s.active && s.hits >= 3) return (s.active = true);
  if (s.active && s.below >= 5) return !((s.active = false), s.ring.fill(false), (s.hits = 0));
  return false;
}

/** 3 of the last 5 anomalies ≥ 0.7 raise, 5 below in a row clear (the anomaly-persistence template). */
export const handPersistence = (): Step =>
  keyed(freshThreeOfFive, (s, e) => {
    if (e.anomaly !== undefined) threeOfFive(s, e.anomaly >= 0.7);
  });

/** A least-squares line through the last `size` points, by running sums over a ring. */
export interface RingFit {
  xs: Float64Array;
  ys: Float64Array;
  head: number;
  points: number;
  sx: number;
  sy: number;
  sxx: number;
  sxy: number;
}

export const freshFit = (size: number): RingFit => ({
  xs: new Float64Array(size),
  ys: new Float64Array(size),
  head: 0,
  points: 0,
  sx: 0,
  sy: 0,
  sxx: 0,
  sxy: 0,
});

/** Adds a point (dropping the oldest once full); returns the seconds until the line at x reaches `level` (0 there, Infinity never), undefined with too few points. */
export function fitPoint(d: RingFit, size: number, x: number, y: number, level: number): number | undefined {
  if (d.points === size) {
    const ox = d.xs[d.head]!;
    const oy = d.ys[d.head]!;
    d.sx -= ox;
    d.sy -= oy;
    d.sxx -= ox * ox;
    d.sxy -= ox * oy;
  } else d.points++;
  d.xs[d.head] = x;
  d.ys[d.head] = y;
  d.head = (d.head + 1) % size;
  d.sx += x;
  d.sy += y;
  d.sxx += x * x;
  d.sxy += x * y;
  const den = d.points * d.sxx - d.sx * d.sx;
  if (d.points < 2 || den <= 1e-12) return undefined;
  const slope = (d.points * d.sxy - d.sx * d.sy) / den;
  const fitted = (d.sy - slope * d.sx) / d.points + slope * x;
  return fitted >= level ? 0 : slope <= 0 ? Infinity : (level - fitted) / slope;
}

/** Least-squares slope over the last `points` anomalies, and the time until it reaches 0.8. */
export const handTrend = (points: number): Step =>
  keyed(
    (e) => ({ fit: freshFit(points), origin: e.ts }),
    (d, e) => {
      if (e.anomaly !== undefined) sink = fitPoint(d.fit, points, (e.ts - d.origin) / 1000, e.anomaly, 0.8) ?? 0;
    },
  );

/** Page-Hinkley on the anomaly upwards, δ 0.02, λ 5. */
export const handPageHinkley = (): Step =>
  keyed(
    () => ({ n: 0, mean: 0, sum: 0, min: 0 }),
    (s, e) => {
      const a = e.anomaly;
      if (a === undefined) return;
      s.n++;
      s.mean += (a - s.mean) / s.n;
      s.sum += a - s.mean - 0.02;
      if (s.sum < s.min) s.min = s.sum;
      if (s.n >= 30 && s.sum - s.min > 5) s.n = s.mean = s.sum = s.min = 0;
    },
  );

/** Absence: the last-seen time per key, read from the clock (a sweep would find the silent ones). */
export const handAbsence = (now: () => number): Step =>
  keyed(
    () => ({ at: 0 }),
    (s) => {
      s.at = now();
    },
  );

/** Tumbling 10 s windows of the anomaly's average, closed 1 s after their end (out of order). */
export const handTumblingAvg = (): Step =>
  keyed(
    () => ({ start: -1, sum: 0, count: 0, watermark: 0 }),
    (w, e) => {
      const a = e.anomaly;
      if (a === undefined) return;
      w.watermark = Math.max(w.watermark, e.ts - 1000);
      if (w.start >= 0 && w.watermark >= w.start + 10_000) {
        sink = w.sum / w.count;
        w.start = -1;
      }
      if (w.start < 0) ((w.start = Math.floor(e.ts / 10_000) * 10_000), (w.sum = 0), (w.count = 0));
      w.sum += a;
      w.count++;
    },
  );

/** Where results go, so the work is not optimised away. */
export let sink = 0;
