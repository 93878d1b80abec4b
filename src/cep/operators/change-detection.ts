import { keyedStep, type KeyedOperator, type KeyLimits } from './keyed-step.js';

export type Direction = 'up' | 'down';
export interface PageHinkleyState {
  n: number;
  mean: number;
  cumulative: number;
  minimum: number;
}
export interface CusumState {
  n: number;
  target: number;
  sum: number;
}

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
 * The frame both detectors share: readings are flipped for 'down', `observe` updates the key's
 * statistics with one reading and returns the statistic when it signals a change, and the key's
 * statistics restart after each detected change.
 */
function changeDetector<T, S extends { n: number }>(
  o: Keyed<T>,
  detector: ChangePoint<T>['detector'],
  fresh: () => S,
  observe: (s: S, x: number) => number | undefined,
  shared?: Map<string, S>,
  limits?: KeyLimits,
): KeyedOperator<T, ChangePoint<T>> {
  const sign = o.direction === 'down' ? -1 : 1;
  return keyedStep<T, S, ChangePoint<T>>(
    {
      keyOf: o.keyOf,
      init: fresh,
      step(s, event, key) {
        const raw = o.readingOf(event);
        if (raw === undefined) return undefined;
        s.n++;
        const statistic = observe(s, sign * raw);
        if (statistic === undefined) return undefined;
        const points = s.n;
        Object.assign(s, fresh());
        return { key, detector, direction: o.direction ?? 'up', statistic, points, event };
      },
    },
    shared,
    limits,
  );
}

/** Page-Hinkley test per key: detects a change of the mean of a score stream. */
export function pageHinkley<T>(
  o: PageHinkleyOptions<T>,
  shared?: Map<string, PageHinkleyState>,
  limits?: KeyLimits,
): KeyedOperator<T, ChangePoint<T>> {
  const minPoints = o.minPoints ?? 30;
  return changeDetector(
    o,
    'page-hinkley',
    (): PageHinkleyState => ({ n: 0, mean: 0, cumulative: 0, minimum: 0 }),
    (s, x) => {
      s.mean += (x - s.mean) / s.n;
      s.cumulative += x - s.mean - o.delta;
      s.minimum = Math.min(s.minimum, s.cumulative);
      const statistic = s.cumulative - s.minimum;
      return s.n >= minPoints && statistic > o.lambda ? statistic : undefined;
    },
    shared,
    limits,
  );
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

/** One-sided tabular CUSUM per key. */
export function cusum<T>(o: CusumOptions<T>, shared?: Map<string, CusumState>, limits?: KeyLimits): KeyedOperator<T, ChangePoint<T>> {
  const sign = o.direction === 'down' ? -1 : 1;
  const warmup = o.target === undefined ? Math.max(1, o.warmup ?? 20) : 0;
  return changeDetector(
    o,
    'cusum',
    (): CusumState => ({ n: 0, target: o.target === undefined ? 0 : sign * o.target, sum: 0 }),
    (s, x) => {
      if (s.n <= warmup) {
        s.target += (x - s.target) / s.n;
        return undefined;
      }
      s.sum = Math.max(0, s.sum + x - s.target - o.slack);
      return s.sum > o.threshold ? s.sum : undefined;
    },
    shared,
    limits,
  );
}
