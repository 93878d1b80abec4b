import type { OperatorFunction } from 'rxjs';
import { keyedStep } from './keyed-step.js';

export interface TrendOptions<T> {
  /** Points in the least-squares fit (the last N per key), ≥ 2. */
  window: number;
  keyOf: (event: T) => string;
  valueOf: (event: T) => number | undefined;
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

interface Fit {
  xs: number[];
  ys: number[];
  next: number;
  count: number;
  /** x = (t - origin) / 1000, kept small so the sums keep their precision. */
  origin: number;
}

/**
 * Least-squares slope of a value over time, per key, over the last `window` points. Emits once a
 * key has two points with different times.
 */
export function trend<T>(options: TrendOptions<T>): OperatorFunction<T, Trend<T>> {
  if (!(options.window >= 2)) throw new RangeError('trend needs a window of at least 2 points');
  return keyedStep<T, Fit, Trend<T>>({
    keyOf: options.keyOf,
    init: (event) => ({ xs: [], ys: [], next: 0, count: 0, origin: options.timeOf(event) }),
    step(fit, event, key) {
      const y = options.valueOf(event);
      if (y === undefined) return undefined;
      const x = (options.timeOf(event) - fit.origin) / 1000;
      fit.xs[fit.next] = x;
      fit.ys[fit.next] = y;
      fit.next = (fit.next + 1) % options.window;
      fit.count = Math.min(fit.count + 1, options.window);
      const line = leastSquares(fit);
      if (!line) return undefined;
      const fitted = line.intercept + line.slope * x;
      return { key, slopePerSecond: line.slope, fitted, points: fit.count, event, ...remaining(options.threshold, fitted, line.slope) };
    },
  });
}

/** Fits y = intercept + slope·x over the stored points, centred on their mean x for stability. */
function leastSquares(fit: Fit): { slope: number; intercept: number } | undefined {
  const n = fit.count;
  if (n < 2) return undefined;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += fit.xs[i]!;
    my += fit.ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = fit.xs[i]! - mx;
    sxx += dx * dx;
    sxy += dx * (fit.ys[i]! - my);
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

function remaining(threshold: number | undefined, fitted: number, slope: number): { timeToThresholdMs?: number } {
  if (threshold === undefined) return {};
  if (fitted >= threshold) return { timeToThresholdMs: 0 };
  if (slope <= 0) return {};
  return { timeToThresholdMs: ((threshold - fitted) / slope) * 1000 };
}
