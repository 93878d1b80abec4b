import type { OperatorFunction } from 'rxjs';
import { keyedStep } from './keyed-step.js';

export type Direction = 'up' | 'down';

export interface ChangePoint<T> {
  key: string;
  detector: 'page-hinkley' | 'cusum';
  direction: Direction;
  /** The test statistic when it crossed the threshold. */
  statistic: number;
  /** Points seen in the episode that ended with this change. */
  points: number;
  event: T;
}

interface Keyed<T> {
  keyOf: (event: T) => string;
  readingOf: (event: T) => number | undefined;
  /** 'up' detects a rise of the mean, 'down' a fall (e.g. confidence drift). */
  direction?: Direction;
}

export interface PageHinkleyOptions<T> extends Keyed<T> {
  /** Magnitude of change tolerated (δ). */
  delta: number;
  /** Detection threshold (λ). */
  lambda: number;
  /** Points before a change may be reported. */
  minPoints?: number;
}

/**
 * Page-Hinkley test per key: detects a change of the mean of a score stream. The key's
 * statistics restart after each detected change.
 */
export function pageHinkley<T>(o: PageHinkleyOptions<T>): OperatorFunction<T, ChangePoint<T>> {
  const sign = o.direction === 'down' ? -1 : 1;
  const minPoints = o.minPoints ?? 30;
  const fresh = () => ({ n: 0, mean: 0, cumulative: 0, minimum: 0 });
  return keyedStep<T, ReturnType<typeof fresh>, ChangePoint<T>>({
    keyOf: o.keyOf,
    init: fresh,
    step(s, event, key) {
      const raw = o.readingOf(event);
      if (raw === undefined) return undefined;
      const x = sign * raw;
      s.n++;
      s.mean += (x - s.mean) / s.n;
      s.cumulative += x - s.mean - o.delta;
      s.minimum = Math.min(s.minimum, s.cumulative);
      const statistic = s.cumulative - s.minimum;
      if (s.n < minPoints || statistic <= o.lambda) return undefined;
      const points = s.n;
      Object.assign(s, fresh());
      return { key, detector: 'page-hinkley', direction: o.direction ?? 'up', statistic, points, event };
    },
  });
}

export interface CusumOptions<T> extends Keyed<T> {
  /** Slack (k): drift per point ignored. */
  slack: number;
  /** Decision threshold (h). */
  threshold: number;
  /** The in-control mean; when omitted, the mean of the first `warmup` points of each episode. */
  target?: number;
  warmup?: number;
}

/** One-sided tabular CUSUM per key; the sum restarts after each detected change. */
export function cusum<T>(o: CusumOptions<T>): OperatorFunction<T, ChangePoint<T>> {
  const sign = o.direction === 'down' ? -1 : 1;
  const warmup = o.target === undefined ? Math.max(1, o.warmup ?? 20) : 0;
  const fresh = () => ({ n: 0, target: o.target === undefined ? 0 : sign * o.target, sum: 0 });
  return keyedStep<T, ReturnType<typeof fresh>, ChangePoint<T>>({
    keyOf: o.keyOf,
    init: fresh,
    step(s, event, key) {
      const raw = o.readingOf(event);
      if (raw === undefined) return undefined;
      const x = sign * raw;
      s.n++;
      if (s.n <= warmup) {
        s.target += (x - s.target) / s.n;
        return undefined;
      }
      s.sum = Math.max(0, s.sum + x - s.target - o.slack);
      if (s.sum <= o.threshold) return undefined;
      const out: ChangePoint<T> = { key, detector: 'cusum', direction: o.direction ?? 'up', statistic: s.sum, points: s.n, event };
      Object.assign(s, fresh());
      return out;
    },
  });
}
