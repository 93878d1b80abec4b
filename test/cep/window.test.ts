import t, { type Test } from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { map, type Observable } from 'rxjs';
import { window, type WindowOptions, type WindowOutput } from '../../src/cep/operators/window.js';
import { count, sum } from '../../src/cep/operators/aggregates.js';
import type { WindowSpec } from '../../src/cep/operators/window-assign.js';

interface E {
  k: string;
  ts: number;
  v?: number;
}
/** Marble value → event: the letter's position in the map gives its event time. */
const ev = (spec: Record<string, [string, number, number?]>): Record<string, E> =>
  Object.fromEntries(Object.entries(spec).map(([c, [k, ts, v]]) => [c, { k, ts, v: v ?? 1 }]));
const show = (o: Observable<WindowOutput<E, number>>) =>
  o.pipe(map((w) => (w.type === 'late' ? `late ${w.key}@${w.event.ts}` : `${w.key}[${w.start},${w.end})=${w.value}${w.final ? '' : '~'}`)));
const scheduler = (t: Test) => new TestScheduler((actual, expected) => t.same(actual, expected));
const op = (spec: WindowSpec, extra: Partial<WindowOptions<E, { n: number }, number>> = {}) =>
  window<E, { n: number }, number>({ spec, keyOf: (e) => e.k, timeOf: (e) => e.ts, readingOf: (e) => e.v, aggregate: count, ...extra });

t.test('tumbling: a window closes when the watermark passes its end; completion flushes the rest', async (t) => {
  const v = ev({ a: ['A', 1], b: ['A', 5], c: ['A', 12] });
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('abc|', v).pipe(op({ kind: 'tumbling', sizeMs: 10 })))).toBe('--x(y|)', { x: 'A[0,10)=2', y: 'A[10,20)=1' });
  });
});

t.test('out-of-order events within the bound still count; beyond it they are late', async (t) => {
  const v = ev({ a: ['A', 1], b: ['A', 12], c: ['A', 8], d: ['A', 16], e: ['A', 3] });
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('abcd|', v).pipe(op({ kind: 'tumbling', sizeMs: 10 }, { outOfOrderMs: 5 })))).toBe('---x(y|)', {
      x: 'A[0,10)=2',
      y: 'A[10,20)=2',
    });
    expectObservable(show(cold('abe|', v).pipe(op({ kind: 'tumbling', sizeMs: 10 })))).toBe('-xy(z|)', {
      x: 'A[0,10)=1',
      y: 'late A@3',
      z: 'A[10,20)=1',
    });
  });
});

t.test('allowed lateness keeps a window open past the watermark', async (t) => {
  const v = ev({ a: ['A', 1], b: ['A', 12], c: ['A', 3], d: ['A', 16] });
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('abcd|', v).pipe(op({ kind: 'tumbling', sizeMs: 10 }, { latenessMs: 5 })))).toBe('---x(y|)', {
      x: 'A[0,10)=2',
      y: 'A[10,20)=2',
    });
  });
});

t.test('sliding windows: each event lands in size/slide windows', async (t) => {
  const v = ev({ a: ['A', 1], b: ['A', 7], c: ['A', 12] });
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('abc|', v).pipe(op({ kind: 'sliding', sizeMs: 10, slideMs: 5 })))).toBe('-wx(yz|)', {
      w: 'A[-5,5)=1',
      x: 'A[0,10)=2',
      y: 'A[5,15)=2',
      z: 'A[10,20)=1',
    });
  });
});

t.test('session windows close after a gap and merge when an event bridges two', async (t) => {
  const v = ev({ a: ['A', 1], b: ['A', 3], c: ['A', 10], d: ['A', 11], f: ['A', 9], g: ['A', 5], h: ['A', 6] });
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('abcd|', v).pipe(op({ kind: 'session', gapMs: 5 })))).toBe('--x-(y|)', { x: 'A[1,8)=2', y: 'A[10,16)=2' });
    // [1,6) and [9,14) are bridged by an event at 5; an event at 6 touches [1,6), which extends it (as Flink merges touching sessions).
    const bridged = op({ kind: 'session', gapMs: 5 }, { outOfOrderMs: 10 });
    expectObservable(show(cold('afg|', v).pipe(bridged))).toBe('---(x|)', { x: 'A[1,14)=3' });
    expectObservable(show(cold('ah|', v).pipe(bridged))).toBe('--(x|)', { x: 'A[1,11)=2' });
    expectObservable(show(cold('ai|', { ...v, ...ev({ i: ['A', 7] }) }).pipe(bridged))).toBe('--(xy|)', { x: 'A[1,6)=1', y: 'A[7,12)=1' });
  });
});

t.test('count and time-or-count windows', async (t) => {
  const v = ev({ a: ['A', 1], b: ['A', 2], c: ['A', 3], d: ['A', 20], e: ['A', 25], f: ['A', 31] });
  scheduler(t).run(({ cold, expectObservable }) => {
    expectObservable(show(cold('abcd|', v).pipe(op({ kind: 'count', size: 3 })))).toBe('--x-(y|)', { x: 'A[1,3)=3', y: 'A[20,20)=1' });
    expectObservable(show(cold('abcdef|', v).pipe(op({ kind: 'time-or-count', sizeMs: 10, size: 3 })))).toBe('--x--y(z|)', {
      x: 'A[1,11)=3',
      y: 'A[20,30)=2',
      z: 'A[31,41)=1',
    });
  });
});

t.test('emit on update: every event shows the running value, the close is final', async (t) => {
  const v = ev({ a: ['A', 1, 2], b: ['A', 5, 3], c: ['A', 12, 4] });
  scheduler(t).run(({ cold, expectObservable }) => {
    const sums = window<E, { s: number }, number>({
      spec: { kind: 'tumbling', sizeMs: 10 },
      keyOf: (e) => e.k,
      timeOf: (e) => e.ts,
      readingOf: (e) => e.v,
      aggregate: sum,
      emit: 'update',
    });
    expectObservable(show(cold('abc---|', v).pipe(sums))).toBe('ab(xy)(z|)', {
      a: 'A[0,10)=2~',
      b: 'A[0,10)=5~',
      x: 'A[10,20)=4~',
      y: 'A[0,10)=5',
      z: 'A[10,20)=4',
    });
  });
});

t.test(
  'keys keep their own watermark; an idle key is closed by processing time; a straggler is then late, the next event in order is not',
  async (t) => {
    const v = ev({ a: ['A', 1], b: ['B', 2], c: ['A', 50], s: ['B', 1], n: ['B', 3] });
    scheduler(t).run(({ cold, expectObservable }) => {
      expectObservable(show(cold('abc-', v).pipe(op({ kind: 'tumbling', sizeMs: 10 })))).toBe('--x-', { x: 'A[0,10)=1' });
      expectObservable(show(cold('ab 10ms sn|', v).pipe(op({ kind: 'tumbling', sizeMs: 10 }, { idleMs: 5 })))).toBe('-----xy 5ms z-(w|)', {
        x: 'A[0,10)=1',
        y: 'B[0,10)=1',
        z: 'late B@1',
        w: 'B[0,10)=1',
      });
    });
  },
);

t.test('skips events without a value; empty, error, never-ending, early unsubscribe, throwing callback, bad specs', async (t) => {
  const v: Record<string, E> = { a: { k: 'A', ts: 1 }, b: { k: 'A', ts: 2, v: 1 } };
  scheduler(t).run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const tumbling = op({ kind: 'tumbling', sizeMs: 10 });
    expectObservable(show(cold('ab|', v).pipe(tumbling))).toBe('--(x|)', { x: 'A[0,10)=1' });
    expectObservable(show(cold('|', v).pipe(tumbling))).toBe('|');
    expectObservable(show(cold('b#', v).pipe(tumbling))).toBe('-#');
    expectObservable(show(cold('b-', v).pipe(tumbling))).toBe('--');
    const source = hot('b-b', v);
    expectObservable(show(source.pipe(tumbling)), '^-!').toBe('---');
    expectSubscriptions(source.subscriptions).toBe('^-!');
    const timeOf = (): number => {
      throw new Error('no time');
    };
    expectObservable(show(cold('b', v).pipe(op({ kind: 'tumbling', sizeMs: 10 }, { timeOf })))).toBe('#', undefined, new Error('no time'));
  });
  t.throws(() => op({ kind: 'tumbling', sizeMs: 0 }), RangeError);
  t.throws(() => op({ kind: 'sliding', sizeMs: 5, slideMs: 10 }), RangeError);
  t.throws(() => op({ kind: 'session', gapMs: -1 }), RangeError);
  t.throws(() => op({ kind: 'count', size: 0 }), RangeError);
});
