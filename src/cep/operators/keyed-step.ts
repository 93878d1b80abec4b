import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { QuietKeys } from './quiet-keys.js';

export interface KeyedStep<T, S, R> {
  keyOf: (event: T) => string;
  /** State for a key seen for the first time. */
  init: (event: T, key: string) => S;
  /** Advances the key's state with the event; returns what to emit, if anything. */
  step: (state: S, event: T, key: string) => R | undefined;
  /** When a key is forgotten (cap or TTL): what to emit for it, e.g. clearing an alarm it held. */
  evicted?: (state: S, key: string, reason: EvictionReason) => R | undefined;
}

/** `partials`: a pattern dropped a key's oldest partial match at its cap. */
export type EvictionReason = 'overflow' | 'ttl' | 'dropped' | 'partials';

/** Bounds on keyed state, so a flood of device ids cannot grow memory without end. */
export interface KeyLimits {
  /** At most this many keys; what happens to one more is `overflow`. */
  maxKeys?: number;
  /** 'evict-oldest' forgets the least recently seen key; 'drop-new' ignores events of new keys. */
  overflow?: 'evict-oldest' | 'drop-new';
  /** A key not seen for this long (scheduler time) is forgotten. */
  ttlMs?: number;
  scheduler?: SchedulerLike;
  /** Told about every forgotten key or ignored event, for metrics. */
  onEvict?: (key: string, reason: EvictionReason) => void;
}

/**
 * The shape of every keyed stateful operator: one stage over a Map (not a groupBy pipeline per
 * key). A user callback that throws becomes the stream's error instead of escaping RxJS. A `shared`
 * map keeps state across re-subscriptions (rule hot swap); otherwise each subscription starts
 * empty. With limits, QuietKeys gives the least recently seen key and the next TTL expiry in
 * O(1); without limits it is not kept.
 */
export function keyedStep<T, S, R>(spec: KeyedStep<T, S, R>, shared?: Map<string, S>, limits: KeyLimits = {}): OperatorFunction<T, R> {
  const bounded = limits.maxKeys !== undefined || limits.ttlMs !== undefined;
  const scheduler = limits.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<R>((subscriber) => {
      const states = shared ?? new Map<string, S>();
      const recent = new QuietKeys<undefined>(scheduler, limits.ttlMs, (key) => forget(key, 'ttl'));
      const forget = (key: string, reason: EvictionReason): void => {
        const state = states.get(key);
        states.delete(key);
        recent.forget(key);
        limits.onEvict?.(key, reason);
        const out = state === undefined ? undefined : spec.evicted?.(state, key, reason);
        if (out !== undefined) subscriber.next(out);
      };
      /** False when the event must be ignored (a new key while full, under 'drop-new'). */
      const admit = (key: string): boolean => {
        if (!recent.has(key) && limits.maxKeys !== undefined && recent.size >= limits.maxKeys) {
          if (limits.overflow === 'drop-new') {
            limits.onEvict?.(key, 'dropped');
            return false;
          }
          const oldest = recent.oldest();
          if (oldest !== undefined) forget(oldest, 'overflow');
        }
        recent.touch(key, undefined);
        return true;
      };
      // Keys handed over in a shared map count against the limits from now on.
      if (bounded) for (const key of states.keys()) recent.touch(key, undefined);

      const subscription = source.subscribe({
        next(event) {
          let out: R | undefined;
          try {
            const key = spec.keyOf(event);
            if (bounded && !admit(key)) return;
            let state = states.get(key);
            if (state === undefined) {
              state = spec.init(event, key);
              states.set(key, state);
            }
            out = spec.step(state, event, key);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (out !== undefined) subscriber.next(out);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        recent.dispose();
      };
    });
}
