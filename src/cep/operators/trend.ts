import { keyedStep, type KeyedOperator, type KeyLimits } from './keyed-step.js';

export interface TrendOptions<T> {
  /** Points in the least-squares fit (the last N per key), ≥ 2. */
  window: number;
  keyOf: (event: T) => string;
  readingOf: (event: T) => number | undefined;
  /** Event time in ms. */
  timeOf: (event: T) => number;
  /** With a threshold, each result says when the fitted line reaches it (remaining useful life). */
  threshold?: number;
}

export interface Trend<T> {
  key: string;
  /** Units of value per second. */
  slopePerSecond: number;
  /** The fitted line's value at the newest point. */
  fitted: number;
  points: number;
  /** Ms from the newest point until the line reaches the threshold: 0 when already there, undefined when never. */
  timeToThresholdMs?: number;
  event: T;
}

export interface Fit {
  /** Typed arrays: a snapshot copies them as bytes, where an array of numbers is encoded number by number. */
  xs: Float64Array;
  ys: Float64Array;
  next: number;
  count: number;
  /** x = (t - origin) / 1000; the origin moves to the oldest point once per window so x stays small. */
  origin: number;
  /** The sums use y - yOrigin (the oldest value at the last re-base), which avoids cancellation when y is far from 0. */
  yOrigin: number;
  sx: number;
  sy: number;
  sxx: number;
  sxy: number;
  sinceRebase: number;
}

/**
 * Least-squares slope of a value over time, per key, over the last `window` points, with running
 * sums (O(1) per event; re-based once per window). Emits once a key has two points with different
 * times.
 */
export function trend<T>(options: TrendOptions<T>, shared?: Map<string, Fit>, limits?: KeyLimits): KeyedOperator<T, Trend<T>> {
  const size = options.window;
  if (!(size >= 2)) throw new RangeError('trend needs a window of at least 2 points');
  return keyedStep<T, Fit, Trend<T>>(
    {
      keyOf: options.keyOf,
      init: (event) => ({
        xs: new Float64Array(size),
        ys: new Float64Array(size),
        next: 0,
        count: 0,
        origin: options.timeOf(event),
        yOrigin: options.readingOf(event) ?? 0,
        sx: 0,
        sy: 0,
        sxx: 0,
        sxy: 0,
        sinceRebase: 0,
      }),
      step(fit, event, key) {
        const y = options.readingOf(event);
        if (y === undefined) return undefined;
        const x = (options.timeOf(event) - fit.origin) / 1000;
        if (fit.count === size) add(fit, fit.xs[fit.next]!, fit.ys[fit.next]!, -1);
        else fit.count++;
        fit.xs[fit.next] = x;
        fit.ys[fit.next] = y;
        fit.next = (fit.next + 1) % size;
        add(fit, x, y, 1);
        if (++fit.sinceRebase >= size) rebase(fit, size);
        const n = fit.count;
        const den = n * fit.sxx - fit.sx * fit.sx;
        if (n < 2 || den <= 1e-12 * Math.max(1, n * fit.sxx)) return undefined;
        const slope = (n * fit.sxy - fit.sx * fit.sy) / den;
        const xLast = fit.xs[(fit.next + size - 1) % size]!;
        const fitted = fit.yOrigin + (fit.sy - slope * fit.sx) / n + slope * xLast;
        const out: Trend<T> = { key, slopePerSecond: slope, fitted, points: n, event };
        // Set only when known, not spread in: this runs for every event.
        const ttt = timeToThreshold(options.threshold, fitted, slope);
        if (ttt !== undefined) out.timeToThresholdMs = ttt;
        return out;
      },
    },
    shared,
    limits,
  );
}

function add(fit: Fit, x: number, rawY: number, sign: 1 | -1): void {
  const y = rawY - fit.yOrigin;
  fit.sx += sign * x;
  fit.sy += sign * y;
  fit.sxx += sign * x * x;
  fit.sxy += sign * x * y;
}

/** Moves both origins to the oldest stored point and recomputes the sums exactly. */
function rebase(fit: Fit, size: number): void {
  const oldest = fit.count === size ? fit.next : 0;
  const shift = fit.xs[oldest]!;
  fit.origin += shift * 1000;
  fit.yOrigin = fit.ys[oldest]!;
  fit.sx = fit.sy = fit.sxx = fit.sxy = 0;
  for (let i = 0; i < fit.count; i++) {
    fit.xs[i] = fit.xs[i]! - shift;
    add(fit, fit.xs[i]!, fit.ys[i]!, 1);
  }
  fit.sinceRebase = 0;
}

function timeToThreshold(threshold: number | undefined, fitted: number, slope: number): number | undefined {
  if (threshold === undefined) return undefined;
  if (fitted >= threshold) return 0;
  if (slope <= 0) return undefined;
  return ((threshold - fitted) / slope) * 1000;
}
