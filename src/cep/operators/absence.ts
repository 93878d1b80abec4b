import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export interface Silence<T> {
  key: string;
  /** The last event seen from the key. */
  last: T;
  /** Scheduler time of that event. */
  lastSeenAt: number;
  /** Scheduler time at which the silence was detected (lastSeenAt + timeout). */
  at: number;
}

export interface AbsenceOptions<T> {
  timeoutMs: number;
  keyOf: (event: T) => string;
  scheduler?: SchedulerLike;
}

/**
 * "No event from key K within T": emits one Silence per quiet episode; the key's next event
 * re-arms it. Deadlines are lastSeen + T with scheduler time that never goes back, so a Map in
 * insertion order (re-arming moves a key to the end) is already sorted by deadline: O(1) per
 * event, and one scheduled action for the earliest deadline drives every key, never a timer per
 * event.
 */
export function absence<T>(options: AbsenceOptions<T>): OperatorFunction<T, Silence<T>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<Silence<T>>((subscriber) => {
      const lastSeen = new Map<string, { event: T; at: number }>();
      let wakeup: Subscription | undefined;

      const arm = (): void => {
        if (wakeup) return;
        const first = lastSeen.values().next();
        if (first.done) return;
        const due = first.value.at + options.timeoutMs;
        wakeup = scheduler.schedule(fire, Math.max(0, due - scheduler.now()));
      };
      const fire = (): void => {
        wakeup = undefined;
        const now = scheduler.now();
        for (const [key, seen] of lastSeen) {
          if (seen.at + options.timeoutMs > now) break;
          lastSeen.delete(key);
          subscriber.next({ key, last: seen.event, lastSeenAt: seen.at, at: seen.at + options.timeoutMs });
        }
        arm();
      };

      const subscription = source.subscribe({
        next(event) {
          let key: string;
          try {
            key = options.keyOf(event);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          lastSeen.delete(key);
          lastSeen.set(key, { event, at: scheduler.now() });
          arm();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        wakeup?.unsubscribe();
      };
    });
}
