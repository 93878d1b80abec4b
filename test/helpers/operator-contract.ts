import type { Test } from 'tap';
import { map, type Observable, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';

/** A marble value: key, value, event time (ms; defaults to the frame it is emitted at). */
export interface Reading {
  k: string;
  v?: number | string;
  t?: number;
}

export const marbleScheduler = (t: Test): TestScheduler => new TestScheduler((actual, expected) => t.same(actual, expected));

/**
 * What every keyed operator must do, whatever it computes: complete on empty input, pass an error
 * through, stay open on a never-ending source, let go of its source on early unsubscribe, and
 * turn a throwing user callback into an error notification.
 */
export function operatorContract(
  t: Test,
  name: string,
  make: (scheduler: TestScheduler) => OperatorFunction<Reading, unknown>,
  throwing: (scheduler: TestScheduler) => OperatorFunction<Reading, unknown>,
  /** What the operator emits for `-a-a` (key A, value 1) up to the unsubscribe at frame 3, with its values. */
  early: { marble: string; values?: Record<string, unknown> } = { marble: '----' },
): void {
  t.test(`${name}: empty, error, never-ending, early unsubscribe, throwing callback`, async (t) => {
    const s = marbleScheduler(t);
    s.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const values = { a: { k: 'A', v: 1 } };
      expectObservable(cold<Reading>('|').pipe(make(s))).toBe('|');
      expectObservable(cold<Reading>('#').pipe(make(s))).toBe('#');
      expectObservable(cold<Reading>('-').pipe(make(s))).toBe('-');
      const source = hot<Reading>('-a-a-a', values);
      expectObservable(source.pipe(make(s)), '^--!').toBe(early.marble, early.values);
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectObservable(cold<Reading>('a', values).pipe(throwing(s))).toBe('#', undefined, new Error('callback bug'));
    });
  });
}

export const bug = (): never => {
  throw new Error('callback bug');
};

/** A pattern's matches and timeouts shown as "<m|t><key>:<values taken>", e.g. "mA:ab". */
export const showMatches = (
  o: Observable<{ type: 'match' | 'timeout'; key: string; events: Record<string, Reading[]> }>,
): Observable<string> =>
  o.pipe(
    map(
      (m) =>
        `${m.type === 'match' ? 'm' : 't'}${m.key}:${Object.values(m.events)
          .flat()
          .map((r) => r.v)
          .join('')}`,
    ),
  );
