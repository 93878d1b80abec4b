import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { directOperator, type DirectOperator } from './direct-operator.js';
import { QuietKeys, type Seen } from './quiet-keys.js';

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
  /** Last-seen times carried across re-subscription (rule hot swap). */
  shared?: Seen<T>;
}

/**
 * "No event from key K within T": emits one Silence per quiet episode; the key's next event
 * re-arms it. O(1) per event, and one scheduled wake-up drives every key (QuietKeys).
 */
export function absence<T>(options: AbsenceOptions<T>): DirectOperator<T, Silence<T>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return directOperator((emit) => {
    const quiet = new QuietKeys<T>(
      scheduler,
      options.timeoutMs,
      (key, last, lastSeenAt) => emit({ key, last, lastSeenAt, at: lastSeenAt + options.timeoutMs }),
      options.shared,
    );
    return {
      push: (event) => void quiet.touch(options.keyOf(event), event),
      dispose: () => quiet.dispose(),
    };
  });
}
