import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { QuietKeys, type Seen } from './quiet-keys.js';

/** One step of a sequence: events matching `where`, at least `min` and at most `max` of them. */
export interface PatternStep<T> {
  name: string;
  where: (event: T) => boolean;
  /** times(n): min = max = n; oneOrMore: min 1, max Infinity; optional: min 0, max 1. Default 1/1. */
  min?: number;
  max?: number;
}

export interface PatternOptions<T> {
  keyOf: (event: T) => string;
  /** Event time, ms: a partial match older than `withinMs` at the next event of its key times out. */
  timeOf: (event: T) => number;
  withinMs: number;
  /** Scheduler time drives timeouts of keys that go quiet. */
  scheduler?: SchedulerLike;
  /** Partial matches and their deadlines, carried across re-subscription (rule hot swap). */
  shared?: { partials: Map<string, Partial<T>>; deadlines: Seen<undefined> };
}

export type PatternOutput<T> =
  | { type: 'match'; key: string; start: number; end: number; events: Record<string, T[]> }
  /** A partial match that ran out of time: what it had, and the step it was waiting for. */
  | { type: 'timeout'; key: string; start: number; events: Record<string, T[]>; waitingFor: string };

export interface Partial<T> {
  start: number;
  step: number;
  count: number;
  taken: T[][];
  /** Steps of an `and` already seen. */
  seen?: boolean[];
}

type Feed = 'more' | 'done' | 'fail' | 'skip';

interface Matcher<T> {
  begins(event: T): boolean;
  open(event: T, ts: number): Partial<T>;
  feed(p: Partial<T>, event: T): Feed;
  done(p: Partial<T>): boolean;
  names: string[];
  waitingFor(p: Partial<T>): string;
}

/**
 * `seq(A, B, …)` within T, per key. Relaxed contiguity (followed-by) skips events that match no
 * step; strict contiguity (next) drops the partial match at the first event that does not fit.
 * One partial match per key; after a match the next one starts fresh. A quantified step ends as
 * soon as an event matches the step after it, and a final step completes at its minimum.
 */
export function seq<T>(
  steps: PatternStep<T>[],
  o: PatternOptions<T> & { contiguity?: 'strict' | 'relaxed' },
): OperatorFunction<T, PatternOutput<T>> {
  if (steps.length === 0) throw new RangeError('seq needs at least one step');
  const bounds = steps.map((s) => ({ min: s.min ?? 1, max: s.max ?? s.min ?? 1 }));
  if (bounds[0]!.min < 1) throw new RangeError('the first step of a sequence cannot be optional');
  if (bounds.some((b) => b.max < Math.max(1, b.min))) throw new RangeError('a step needs max ≥ min and max ≥ 1');
  const strict = o.contiguity === 'strict';
  const last = steps.length - 1;
  /** The step an event may move on to from step i: the next one, skipping optional steps it does not match. */
  const nextMatching = (i: number, event: T): number | undefined => {
    for (let j = i + 1; j <= last; j++) {
      if (steps[j]!.where(event)) return j;
      if (bounds[j]!.min > 0) return undefined;
    }
    return undefined;
  };
  const complete = (p: Partial<T>): boolean => {
    if (p.count < bounds[p.step]!.min) return false;
    for (let j = p.step + 1; j <= last; j++) if (bounds[j]!.min > 0) return false;
    return true;
  };
  const matcher: Matcher<T> = {
    names: steps.map((s) => s.name),
    begins: (event) => steps[0]!.where(event),
    open: (event, ts) => ({ start: ts, step: 0, count: 1, taken: steps.map((_, i) => (i === 0 ? [event] : [])) }),
    feed(p, event) {
      const b = bounds[p.step]!;
      const j = p.count >= b.min ? nextMatching(p.step, event) : undefined;
      if (j !== undefined) {
        p.step = j;
        p.count = 1;
        p.taken[j]!.push(event);
      } else if (p.count < b.max && steps[p.step]!.where(event)) {
        p.count++;
        p.taken[p.step]!.push(event);
      } else return strict ? 'fail' : 'skip';
      return complete(p) ? 'done' : 'more';
    },
    done: complete,
    waitingFor(p) {
      const b = bounds[p.step]!;
      return steps[p.count < b.min ? p.step : Math.min(p.step + 1, last)]!.name;
    },
  };
  return partialMatches(matcher, o);
}

/** `and(A, B, …)` within T: every predicate matched by some event of the key, in any order. */
export function allOf<T>(steps: Omit<PatternStep<T>, 'min' | 'max'>[], o: PatternOptions<T>): OperatorFunction<T, PatternOutput<T>> {
  if (steps.length === 0) throw new RangeError('and needs at least one step');
  const matcher: Matcher<T> = {
    names: steps.map((s) => s.name),
    begins: (event) => steps.some((s) => s.where(event)),
    open(event, ts) {
      const p: Partial<T> = { start: ts, step: 0, count: 0, taken: steps.map(() => []), seen: steps.map(() => false) };
      matcher.feed(p, event);
      return p;
    },
    feed(p, event) {
      let took = false;
      steps.forEach((s, i) => {
        if (!p.seen![i] && s.where(event)) {
          p.seen![i] = took = true;
          p.taken[i]!.push(event);
          p.count++;
        }
      });
      if (!took) return 'skip';
      return matcher.done(p) ? 'done' : 'more';
    },
    done: (p) => p.count === steps.length,
    waitingFor: (p) =>
      steps
        .filter((_, i) => !p.seen![i])
        .map((s) => s.name)
        .join(','),
  };
  return partialMatches(matcher, o);
}

/**
 * The frame both patterns share: one partial match per key, timed out by event time when the
 * key's next event comes too late, and by one scheduler wake-up for keys that go quiet (QuietKeys
 * keeps partials in start order, which is deadline order). A throwing predicate errors the stream.
 */
function partialMatches<T>(m: Matcher<T>, o: PatternOptions<T>): OperatorFunction<T, PatternOutput<T>> {
  const scheduler = o.scheduler ?? asyncScheduler;
  const events = (p: Partial<T>): Record<string, T[]> => Object.fromEntries(m.names.map((n, i) => [n, p.taken[i]!]));
  return (source) =>
    new Observable<PatternOutput<T>>((subscriber) => {
      const partials = o.shared?.partials ?? new Map<string, Partial<T>>();
      const timeout = (key: string, p: Partial<T>): void => {
        partials.delete(key);
        deadlines.forget(key);
        subscriber.next({ type: 'timeout', key, start: p.start, events: events(p), waitingFor: m.waitingFor(p) });
      };
      const deadlines = new QuietKeys<undefined>(
        scheduler,
        o.withinMs,
        (key) => {
          const p = partials.get(key);
          if (p) timeout(key, p);
        },
        o.shared?.deadlines,
      );

      const match = (key: string, p: Partial<T>, ts: number): void => {
        partials.delete(key);
        deadlines.forget(key);
        subscriber.next({ type: 'match', key, start: p.start, end: ts, events: events(p) });
      };
      const begin = (key: string, event: T, ts: number): void => {
        if (!m.begins(event)) return;
        const p = m.open(event, ts);
        if (m.done(p)) return match(key, p, ts);
        partials.set(key, p);
        deadlines.touch(key, undefined);
      };

      const subscription = source.subscribe({
        next(event) {
          try {
            const key = o.keyOf(event);
            const ts = o.timeOf(event);
            const p = partials.get(key);
            if (p && ts - p.start > o.withinMs) timeout(key, p);
            const open = partials.get(key);
            if (!open) return begin(key, event, ts);
            const state = m.feed(open, event);
            if (state === 'fail') {
              partials.delete(key);
              deadlines.forget(key);
              begin(key, event, ts);
            } else if (state === 'done') match(key, open, ts);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        deadlines.dispose();
      };
    });
}
