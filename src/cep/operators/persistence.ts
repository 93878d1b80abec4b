import { keyedStep, type KeyedOperator, type KeyLimits } from './keyed-step.js';
import type { LevelChange } from './hysteresis.js';

export interface PersistenceOptions<T> {
  keyOf: (event: T) => string;
  /** The value compared with the threshold; undefined skips the event. */
  readingOf: (event: T) => number | undefined;
  threshold: number;
  n: number;
  m: number;
  clearAfter: number;
}

/** Per-key window: the last `m` hit flags in a ring, their count, and the latch. */
export interface PersistenceWindow<T> {
  ring: boolean[];
  next: number;
  hits: number;
  belowStreak: number;
  active: boolean;
  /**
   * The key's newest event while raised: what a clear caused by forgetting the key refers to.
   * Not kept while the window is low, where no clear can follow: held until the key's next
   * event, every event outlived a young-generation collection and filled the old one.
   */
  last?: T;
}

/**
 * N-of-M persistence: raises when the value is ≥ threshold in `n` of the last `m` events of a
 * key, clears after `clearAfter` consecutive events below it. `shared` state survives a rule
 * reload; a key forgotten while raised (cap or TTL) is cleared.
 */
export function persistence<T>(
  o: PersistenceOptions<T>,
  shared?: Map<string, PersistenceWindow<T>>,
  limits?: KeyLimits,
): KeyedOperator<T, LevelChange<T>> {
  if (!(o.n >= 1 && o.n <= o.m)) throw new RangeError('persistence needs 1 ≤ n ≤ m');
  return keyedStep<T, PersistenceWindow<T>, LevelChange<T>>(
    {
      keyOf: o.keyOf,
      init: () => ({ ring: new Array<boolean>(o.m).fill(false), next: 0, hits: 0, belowStreak: 0, active: false }),
      step: (w, event, key) => step(o, w, event, key),
      evicted: (w, key, reason) => (w.active ? { key, state: 'cleared', value: 0, event: w.last!, evicted: reason } : undefined),
    },
    shared,
    limits,
  );
}

function step<T>(o: PersistenceOptions<T>, w: PersistenceWindow<T>, event: T, key: string): LevelChange<T> | undefined {
  const change = advance(o, w, event, key);
  w.last = w.active ? event : undefined;
  return change;
}

function advance<T>(o: PersistenceOptions<T>, w: PersistenceWindow<T>, event: T, key: string): LevelChange<T> | undefined {
  const value = o.readingOf(event);
  if (value === undefined) return undefined;
  const hit = value >= o.threshold;
  if (w.ring[w.next]) w.hits--;
  w.ring[w.next] = hit;
  if (hit) w.hits++;
  w.next = (w.next + 1) % o.m;
  w.belowStreak = hit ? 0 : w.belowStreak + 1;

  if (!w.active && w.hits >= o.n) {
    w.active = true;
    return { key, state: 'raised', value, event };
  }
  if (w.active && w.belowStreak >= o.clearAfter) {
    w.active = false;
    w.ring.fill(false);
    w.hits = 0;
    return { key, state: 'cleared', value, event };
  }
  return undefined;
}
