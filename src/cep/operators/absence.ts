import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { DeadlineQueue } from './deadline-queue.js';

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
 * re-arms it. One deadline queue and one scheduled action for the earliest deadline drive every
 * key, never a timer per event.
 */
export function absence<T>(options: AbsenceOptions<T>): OperatorFunction<T, Silence<T>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<Silence<T>>((subscriber) => {
      const deadlines = new DeadlineQueue();
      const last = new Map<string, { event: T; at: number }>();
      let wakeup: Subscription | undefined;
      let wakeupAt = Infinity;

      const arm = (): void => {
        const next = deadlines.peek();
        if (next === undefined || next >= wakeupAt) return;
        wakeup?.unsubscribe();
        wakeupAt = next;
        wakeup = scheduler.schedule(fire, Math.max(0, next - scheduler.now()));
      };
      const fire = (): void => {
        wakeupAt = Infinity;
        wakeup = undefined;
        for (const key of deadlines.popDue(scheduler.now())) {
          const seen = last.get(key);
          last.delete(key);
          if (seen) subscriber.next({ key, last: seen.event, lastSeenAt: seen.at, at: seen.at + options.timeoutMs });
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
          const now = scheduler.now();
          last.set(key, { event, at: now });
          deadlines.set(key, now + options.timeoutMs);
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
