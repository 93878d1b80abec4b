import { Observable, type OperatorFunction } from 'rxjs';

export interface HysteresisOptions<T> {
  /** Raise when the value is ≥ raiseAt … */
  raiseAt: number;
  /** … and clear only when it falls to ≤ clearAt (clearAt < raiseAt), so noise near one level cannot flap. */
  clearAt: number;
  keyOf: (event: T) => string;
  /** The value to watch; undefined skips the event. */
  valueOf: (event: T) => number | undefined;
}

export interface LevelChange<T> {
  key: string;
  state: 'raised' | 'cleared';
  value: number;
  event: T;
}

/** Keyed two-threshold latch: one stage over a Map of raised keys. */
export function hysteresis<T>(options: HysteresisOptions<T>): OperatorFunction<T, LevelChange<T>> {
  if (!(options.clearAt < options.raiseAt)) throw new RangeError('hysteresis needs clearAt < raiseAt');
  return (source) =>
    new Observable<LevelChange<T>>((subscriber) => {
      const raised = new Set<string>();
      return source.subscribe({
        next(event) {
          let key: string;
          let value: number | undefined;
          try {
            value = options.valueOf(event);
            if (value === undefined) return;
            key = options.keyOf(event);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (!raised.has(key) && value >= options.raiseAt) {
            raised.add(key);
            subscriber.next({ key, state: 'raised', value, event });
          } else if (raised.has(key) && value <= options.clearAt) {
            raised.delete(key);
            subscriber.next({ key, state: 'cleared', value, event });
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
