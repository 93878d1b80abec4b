import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { QuietKeys, type Seen } from './quiet-keys.js';

export interface DebounceOptions<T> {
  keyOf: (event: T) => string;
  /** A key's newest event is let through once the key has been quiet this long. */
  quietMs: number;
  scheduler?: SchedulerLike;
  /** Pending events carried across re-subscription (rule hot swap). */
  shared?: Seen<T>;
}

/**
 * Keyed debounce: a burst from one key becomes its last event, emitted `quietMs` after the burst;
 * other keys are unaffected. One scheduler wake-up serves every key. On completion the pending
 * events are emitted, oldest first, as RxJS debounceTime does.
 */
export function debounceByKey<T>(o: DebounceOptions<T>): OperatorFunction<T, T> {
  const scheduler = o.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<T>((subscriber) => {
      const pending = new QuietKeys<T>(scheduler, o.quietMs, (_key, event) => subscriber.next(event), o.shared);
      const subscription = source.subscribe({
        next(event) {
          try {
            pending.touch(o.keyOf(event), event);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete() {
          pending.drain((event) => subscriber.next(event));
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        pending.dispose();
      };
    });
}

export interface DedupeOptions<T> {
  keyOf: (event: T) => string;
  /** What makes two events of a key the same, e.g. the MCU's sequence counter; undefined never dedupes. */
  idOf: (event: T) => string | number | undefined;
  /** An id is remembered this long after it was first seen. */
  withinMs: number;
  /** At most this many remembered ids (the oldest is forgotten first), so memory stays bounded. */
  maxIds?: number;
  scheduler?: SchedulerLike;
  shared?: Seen<undefined>;
  onDuplicate?: (event: T) => void;
}

/** Drops an event whose (key, id) was seen within `withinMs`: MQTT QoS 1 redeliveries, MCU retries. */
export function dedupe<T>(o: DedupeOptions<T>): OperatorFunction<T, T> {
  const scheduler = o.scheduler ?? asyncScheduler;
  const maxIds = o.maxIds ?? 100_000;
  return (source) =>
    new Observable<T>((subscriber) => {
      const seen = new QuietKeys<undefined>(scheduler, o.withinMs, () => undefined, o.shared);
      const subscription = source.subscribe({
        next(event) {
          try {
            const id = o.idOf(event);
            if (id !== undefined) {
              const key = `${o.keyOf(event)}\u0000${id}`;
              if (seen.has(key)) return o.onDuplicate?.(event);
              if (seen.size >= maxIds) seen.forget(seen.oldest()!);
              seen.touch(key, undefined);
            }
          } catch (err) {
            subscriber.error(err);
            return;
          }
          subscriber.next(event);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        seen.dispose();
      };
    });
}
