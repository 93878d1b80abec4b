import { Observable, type OperatorFunction } from 'rxjs';

export interface KeyedStep<T, S, R> {
  keyOf: (event: T) => string;
  /** State for a key seen for the first time. */
  init: (event: T, key: string) => S;
  /** Advances the key's state with the event; returns what to emit, if anything. */
  step: (state: S, event: T, key: string) => R | undefined;
}

/**
 * The shape of every keyed stateful operator: one stage over a Map (not a groupBy pipeline per
 * key). A user callback that throws becomes the stream's error instead of escaping RxJS. A `shared`
 * map keeps state across re-subscriptions (rule hot swap); otherwise each subscription starts empty.
 */
export function keyedStep<T, S, R>(spec: KeyedStep<T, S, R>, shared?: Map<string, S>): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      // Without a shared map, each subscription has its own state, as every RxJS operator does.
      const states = shared ?? new Map<string, S>();
      return source.subscribe({
        next(event) {
          let out: R | undefined;
          try {
            const key = spec.keyOf(event);
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
    });
}
