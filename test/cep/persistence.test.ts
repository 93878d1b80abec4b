import t, { type Test } from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { map, Subject, type Observable } from 'rxjs';
import { persistence, type PersistenceOptions, type PersistenceWindow } from '../../src/cep/operators/persistence.js';
import type { LevelChange } from '../../src/cep/operators/hysteresis.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

const options: PersistenceOptions<InferenceEvent> = {
  keyOf: (e) => e.device,
  readingOf: (e) => e.anomaly,
  threshold: 0.7,
  n: 2,
  m: 3,
  clearAfter: 2,
};
const anomalyPersistence = (o: PersistenceOptions<InferenceEvent>, state?: Map<string, PersistenceWindow<InferenceEvent>>) =>
  persistence(o, state);

/** Marble values: h = hit (0.9), l = low (0.1) for device A; H/L the same for device B; x = no anomaly. */
const values: Record<string, InferenceEvent> = {
  h: { device: 'A', ts: 1, model: { name: 'm', version: '1' }, anomaly: 0.9 },
  l: { device: 'A', ts: 2, model: { name: 'm', version: '1' }, anomaly: 0.1 },
  H: { device: 'B', ts: 3, model: { name: 'm', version: '1' }, anomaly: 0.9 },
  L: { device: 'B', ts: 4, model: { name: 'm', version: '1' }, anomaly: 0.1 },
  x: { device: 'A', ts: 5, model: { name: 'm', version: '1' }, label: 'ok' },
};

/** Transitions reduced to "<key><r|c>" so the expected marble stays readable. */
const short = (o: Observable<LevelChange<InferenceEvent>>) => o.pipe(map((a) => `${a.key}${a.state === 'raised' ? 'r' : 'c'}`));

function scheduler(t: Test): TestScheduler {
  return new TestScheduler((actual, expected) => t.same(actual, expected));
}

t.test('empty input completes with nothing', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(short(cold<InferenceEvent>('|', values).pipe(anomalyPersistence(options)))).toBe('|');
  });
});

t.test('a single hit is not enough for 2 of 3', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(short(cold('h|', values).pipe(anomalyPersistence(options)))).toBe('-|');
  });
});

t.test('raises on the 2nd hit in 3, clears after 2 consecutive lows, and raises again', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const input = cold('hlhhllhlh|', values);
    expectObservable(short(input.pipe(anomalyPersistence(options)))).toBe('--a--b--a|', { a: 'Ar', b: 'Ac' });
  });
});

t.test('a low between hits does not clear; hits outside the window do not count', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(short(cold('hllhllh|', values).pipe(anomalyPersistence(options)))).toBe('-------|');
  });
});

t.test('devices are keyed independently; events without anomaly are ignored', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const input = cold('hHxLhHlLL|', values);
    expectObservable(short(input.pipe(anomalyPersistence(options)))).toBe('----ab--c|', { a: 'Ar', b: 'Br', c: 'Bc' });
  });
});

t.test('transitions carry the key, the value and the event', async (t) => {
  const out: LevelChange<InferenceEvent>[] = [];
  scheduler(t).run(({ cold }) => {
    cold('hh|', values)
      .pipe(anomalyPersistence(options))
      .subscribe((a) => out.push(a));
  });
  t.match(out, [{ key: 'A', state: 'raised', value: 0.9, event: { ts: 1 } }]);
  t.throws(() => persistence({ ...options, n: 4 }), RangeError);
});

t.test('errors pass through; a never-ending source stays open', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(short(cold('hh#', values).pipe(anomalyPersistence(options)))).toBe('-a#', { a: 'Ar' });
    expectObservable(short(cold('hh-', values).pipe(anomalyPersistence(options)))).toBe('-a-', { a: 'Ar' });
  });
});

t.test('early unsubscribe stops reading the source', async (t) => {
  scheduler(t).run(({ hot, expectObservable, expectSubscriptions }) => {
    const input = hot('hhlll|', values);
    expectObservable(short(input.pipe(anomalyPersistence(options))), '^-!').toBe('-a-', { a: 'Ar' });
    expectSubscriptions(input.subscriptions).toBe('^-!');
  });
});

t.test('a failure inside the operator becomes an error notification, not a throw', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const bad = { ...values.h!, anomaly: 0.9 } as InferenceEvent;
    Object.defineProperty(bad, 'anomaly', {
      get: () => {
        throw new Error('boom');
      },
    });
    expectObservable(short(cold('a|', { a: bad }).pipe(anomalyPersistence(options)))).toBe('#', undefined, new Error('boom'));
  });
});

t.test('state handed back in continues where it was', async (t) => {
  const state = new Map<string, PersistenceWindow<InferenceEvent>>();
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(short(cold('h|', values).pipe(anomalyPersistence(options, state)))).toBe('-|');
  });
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(short(cold('h|', values).pipe(anomalyPersistence(options, state)))).toBe('a|', { a: 'Ar' });
  });
  t.equal(state.get('A')?.active, true);
});

t.test('a window holds the newest event only while raised, and a clear on eviction carries it', async (t) => {
  const state = new Map<string, PersistenceWindow<InferenceEvent>>();
  const out: LevelChange<InferenceEvent>[] = [];
  const input = new Subject<InferenceEvent>();
  input.pipe(persistence(options, state, { maxKeys: 1, overflow: 'evict-oldest' })).subscribe((a) => out.push(a));
  const late = { ...values.h!, ts: 9 };
  input.next(values.h!);
  input.next(values.l!);
  t.same(state.get('A')?.last, undefined, 'a low window keeps no event alive');
  input.next(values.h!);
  t.equal(state.get('A')?.last, values.h, 'raised: the newest event is kept');
  input.next(late);
  input.next(values.l!);
  t.equal(state.get('A')?.last, values.l);
  input.next(values.H!);
  t.match(out, [
    { key: 'A', state: 'raised', event: { ts: 1 } },
    { key: 'A', state: 'cleared', value: 0, event: { ts: 2 }, evicted: 'overflow' },
  ]);
  t.equal(out.length, 2);
});
