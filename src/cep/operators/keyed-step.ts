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

/** A keyed operator that can also run without RxJS: what the engine's compiled rules call per event. */
export interface KeyedOperator<T, R> extends OperatorFunction<T, R> {
  /** The same state machine, called directly: `step` returns what the operator would emit; evictions go to `emit`. */
  runner(emit: (out: R) => void): KeyedRunner<T, R>;
}

/**
 * One keyed operator's state machine over its Map: admits a key under the limits, makes its state
 * on its first event, steps it. With limits, QuietKeys gives the least recently seen key and the
 * next TTL expiry in O(1); without limits it is not kept.
 */
export class KeyedRunner<T, R> {
  private readonly bounded: boolean;
  private readonly recent: QuietKeys<undefined>;

  constructor(
    private readonly spec: KeyedStep<T, unknown, R>,
    private readonly states: Map<string, unknown>,
    private readonly limits: KeyLimits,
    private readonly emit: (out: R) => void,
  ) {
    this.bounded = limits.maxKeys !== undefined || limits.ttlMs !== undefined;
    this.recent = new QuietKeys<undefined>(limits.scheduler ?? asyncScheduler, limits.ttlMs, (key) => this.forget(key, 'ttl'));
    // Keys handed over in a shared map count against the limits from now on.
    if (this.bounded) for (const key of states.keys()) this.recent.touch(key, undefined);
  }

  /** Advances the event's key; returns what to emit, if anything. A throwing callback throws. */
  step(event: T): R | undefined {
    const key = this.spec.keyOf(event);
    if (this.bounded && !this.admit(key)) return undefined;
    let state = this.states.get(key);
    if (state === undefined) {
      state = this.spec.init(event, key);
      this.states.set(key, state);
    }
    return this.spec.step(state, event, key);
  }

  dispose(): void {
    this.recent.dispose();
  }

  private forget(key: string, reason: EvictionReason): void {
    const state = this.states.get(key);
    this.states.delete(key);
    this.recent.forget(key);
    this.limits.onEvict?.(key, reason);
    const out = state === undefined ? undefined : this.spec.evicted?.(state, key, reason);
    if (out !== undefined) this.emit(out);
  }

  /** False when the event must be ignored (a new key while full, under 'drop-new'). */
  private admit(key: string): boolean {
    const limits = this.limits;
    if (!this.recent.has(key) && limits.maxKeys !== undefined && this.recent.size >= limits.maxKeys) {
      if (limits.overflow === 'drop-new') {
        limits.onEvict?.(key, 'dropped');
        return false;
      }
      const oldest = this.recent.oldest();
      if (oldest !== undefined) this.forget(oldest, 'overflow');
    }
    this.recent.touch(key, undefined);
    return true;
  }
}

/**
 * The shape of every keyed stateful operator: one stage over a Map (not a groupBy pipeline per
 * key). A user callback that throws becomes the stream's error instead of escaping RxJS. A `shared`
 * map keeps state across re-subscriptions (rule hot swap); otherwise each subscription starts
 * empty.
 */
export function keyedStep<T, S, R>(spec: KeyedStep<T, S, R>, shared?: Map<string, S>, limits: KeyLimits = {}): KeyedOperator<T, R> {
  const general = spec as unknown as KeyedStep<T, unknown, R>;
  const runnerOf = (emit: (out: R) => void): KeyedRunner<T, R> =>
    new KeyedRunner<T, R>(general, shared ?? new Map<string, S>(), limits, emit);
  const operator: OperatorFunction<T, R> = (source) =>
    new Observable<R>((subscriber) => {
      const runner = runnerOf((out) => subscriber.next(out));
      const subscription = source.subscribe({
        next(event) {
          let out: R | undefined;
          try {
            out = runner.step(event);
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
        runner.dispose();
      };
    });
  return Object.assign(operator, { runner: runnerOf });
}
