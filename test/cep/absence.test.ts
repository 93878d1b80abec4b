import t, { type Test } from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { NEVER, concat, from, map, type Observable, type SchedulerLike } from 'rxjs';
import { absence, type Silence } from '../../src/cep/operators/absence.js';

/** Marble values are device ids; a silence is shown as "<key>@<lastSeenAt>". */
const keyOf = (e: string): string => e;
const show = (o: Observable<Silence<string>>) => o.pipe(map((s) => `${s.key}@${s.lastSeenAt}`));
const scheduler = (t: Test) => new TestScheduler((actual, expected) => t.same(actual, expected));

t.test('a key that goes quiet for the timeout is reported once, at lastSeen + timeout', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('a-a------').pipe(absence({ timeoutMs: 3, keyOf })))).toBe('-----s---', { s: 'a@2' });
  });
});

t.test('keys are independent; each event re-arms its own key only', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('ab-a-----').pipe(absence({ timeoutMs: 3, keyOf })))).toBe('----x-y--', { x: 'b@1', y: 'a@3' });
  });
});

t.test('the next event after a silence starts a new episode', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('a----a-----').pipe(absence({ timeoutMs: 2, keyOf })))).toBe('--x----y---', { x: 'a@0', y: 'a@5' });
  });
});

t.test('empty, completing and erroring sources', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('|').pipe(absence({ timeoutMs: 2, keyOf })))).toBe('|');
    expectObservable(show(cold('a|').pipe(absence({ timeoutMs: 2, keyOf })))).toBe('-|');
    expectObservable(show(cold('a-#').pipe(absence({ timeoutMs: 5, keyOf })))).toBe('--#');
    expectObservable(show(cold('-').pipe(absence({ timeoutMs: 5, keyOf })))).toBe('-');
  });
});

t.test('unsubscribing cancels the pending wake-up', async (t) => {
  scheduler(t).run(({ hot, expectObservable, expectSubscriptions }) => {
    const source = hot('a------');
    expectObservable(show(source.pipe(absence({ timeoutMs: 3, keyOf }))), '^-!').toBe('-------');
    expectSubscriptions(source.subscriptions).toBe('^-!');
  });
});

t.test('a throwing key function errors the stream', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const boom = (): string => {
      throw new Error('no key');
    };
    expectObservable(show(cold('a').pipe(absence({ timeoutMs: 3, keyOf: boom })))).toBe('#', undefined, new Error('no key'));
  });
});

t.test('1,000 keys share one scheduled wake-up, not a timer each', async (t) => {
  const ts = scheduler(t);
  let scheduled = 0;
  const silences: Silence<string>[] = [];
  ts.run(() => {
    const counting: SchedulerLike = {
      now: () => ts.now(),
      schedule: (work, delay, state) => {
        scheduled++;
        return ts.schedule(work as never, delay, state);
      },
    };
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    concat(from(keys), NEVER)
      .pipe(absence({ timeoutMs: 5, keyOf, scheduler: counting }))
      .subscribe((s) => silences.push(s));
  });
  t.equal(silences.length, 1000, 'every key reported');
  t.ok(silences.every((s) => s.at === 5));
  t.equal(scheduled, 1, 'one wake-up for all of them');
});

t.test('a key re-armed while the wake-up is pending is checked again, not reported early', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    // a's first deadline (3) passes while it was re-armed at 2: the wake-up at 3 finds it fresh.
    expectObservable(show(cold('a-a-b------').pipe(absence({ timeoutMs: 3, keyOf })))).toBe('-----x-y---', { x: 'a@2', y: 'b@4' });
  });
});
