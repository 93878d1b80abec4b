import { keyedStep, type KeyedOperator, type EvictionReason, type KeyLimits } from './keyed-step.js';

export interface HysteresisOptions<T> {
  /** Raise when the value is ≥ raiseAt … */
  raiseAt: number;
  /** … and clear only when it falls to ≤ clearAt (clearAt < raiseAt), so noise near one level cannot flap. */
  clearAt: number;
  keyOf: (event: T) => string;
  /** The value to watch; undefined skips the event. */
  readingOf: (event: T) => number | undefined;
}

export interface LevelChange<T> {
  key: string;
  state: 'raised' | 'cleared';
  value: number;
  event: T;
  /** Set when the change comes from forgetting the key (state cap or TTL), not from a value. */
  evicted?: EvictionReason;
}

/** Keyed two-threshold latch. */
export function hysteresis<T>(
  options: HysteresisOptions<T>,
  shared?: Map<string, { raised: boolean }>,
  limits?: KeyLimits,
): KeyedOperator<T, LevelChange<T>> {
  if (!(options.clearAt < options.raiseAt)) throw new RangeError('hysteresis needs clearAt < raiseAt');
  return keyedStep<T, { raised: boolean }, LevelChange<T>>(
    {
      keyOf: options.keyOf,
      init: () => ({ raised: false }),
      step(latch, event, key) {
        const value = options.readingOf(event);
        if (value === undefined) return undefined;
        if (!latch.raised && value >= options.raiseAt) {
          latch.raised = true;
          return { key, state: 'raised', value, event };
        }
        if (latch.raised && value <= options.clearAt) {
          latch.raised = false;
          return { key, state: 'cleared', value, event };
        }
        return undefined;
      },
    },
    shared,
    limits,
  );
}
