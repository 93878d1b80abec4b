import t from 'tap';
import { map } from 'rxjs';
import { allOf, seq, type PatternStep } from '../../src/cep/operators/pattern.js';
import { bug, marbleScheduler, operatorContract, showMatches, type Reading } from '../helpers/operator-contract.js';

/** a/b/c: key A with value a/b/c; B: key B with value b; x: key A with value x (matches no step). */
const values: Record<string, Reading> = {
  a: { k: 'A', v: 'a' },
  b: { k: 'A', v: 'b' },
  c: { k: 'A', v: 'c' },
  x: { k: 'A', v: 'x' },
  B: { k: 'B', v: 'b' },
  A: { k: 'B', v: 'a' },
};
const is = (v: string) => (r: Reading) => r.v === v;
const step = (v: string, more: Partial<PatternStep<Reading>> = {}): PatternStep<Reading> => ({ name: v, where: is(v), ...more });
/** Event time is the marble frame, so `within` is in frames. */
const base = (withinMs = 5) => ({ keyOf: (r: Reading) => r.k, timeOf: (r: Reading) => r.t ?? 0, withinMs });
const show = showMatches;

function timed(s: { now(): number }) {
  return map((r: Reading) => ({ ...r, t: s.now() }));
}

operatorContract(
  t,
  'seq',
  (s) => (src) => src.pipe(timed(s), seq([step('a'), step('b')], { ...base(), scheduler: s })),
  (s) => (src) => src.pipe(seq([{ name: 'a', where: bug }], { ...base(), scheduler: s })),
);
operatorContract(
  t,
  'and',
  (s) => (src) => src.pipe(timed(s), allOf([step('a'), step('b')], { ...base(), scheduler: s })),
  (s) => (src) => src.pipe(allOf([{ name: 'a', where: bug }], { ...base(), scheduler: s })),
);

t.test('seq(a, b) relaxed: skips other events; keys are independent; one partial per key', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('axbAaBb|', values).pipe(timed(s), seq([step('a'), step('b')], { ...base(10), scheduler: s }));
    expectObservable(show(out)).toBe('--m--no|', { m: 'mA:ab', n: 'mB:ab', o: 'mA:ab' });
  });
});

t.test('strict contiguity: an event between the steps drops the partial match', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('axbab|', values).pipe(timed(s), seq([step('a'), step('b')], { ...base(10), contiguity: 'strict', scheduler: s }));
    expectObservable(show(out)).toBe('----m|', { m: 'mA:ab' });
  });
});

t.test('quantifiers: times(2), oneOrMore ending at the next step, optional', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const twice = cold('aab|', values).pipe(timed(s), seq([step('a', { min: 2, max: 2 }), step('b')], { ...base(10), scheduler: s }));
    expectObservable(show(twice)).toBe('--m|', { m: 'mA:aab' });
    const many = cold('aaab|', values).pipe(
      timed(s),
      seq([step('a', { min: 1, max: Infinity }), step('b')], { ...base(10), scheduler: s }),
    );
    expectObservable(show(many)).toBe('---m|', { m: 'mA:aaab' });
    const optional = cold('ac-abc|', values).pipe(
      timed(s),
      seq([step('a'), step('b', { min: 0, max: 1 }), step('c')], { ...base(10), scheduler: s }),
    );
    expectObservable(show(optional)).toBe('-m---n|', { m: 'mA:ac', n: 'mA:abc' });
  });
  t.throws(() => seq([step('a', { min: 0, max: 1 })], base()), RangeError);
  t.throws(() => seq([], base()), RangeError);
  t.throws(() => seq([step('a', { min: 2, max: 1 })], base()), RangeError);
});

t.test('timeouts: by the next event of the key (event time), and by the scheduler for a key gone quiet', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    // a at 0, b at 7: the scheduler times the partial out at 5, before b arrives.
    const late = cold('a------b|', values).pipe(timed(s), seq([step('a'), step('b')], { ...base(5), scheduler: s }));
    expectObservable(show(late)).toBe('-----t--|', { t: 'tA:a' });
    // a at 0 and nothing after: the scheduler wakes up at 5.
    const quiet = cold('a-------', values).pipe(timed(s), seq([step('a'), step('b')], { ...base(5), scheduler: s }));
    expectObservable(show(quiet)).toBe('-----t--', { t: 'tA:a' });
  });
});

t.test('out-of-order input: event time, not arrival, decides a timeout', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const input = cold('ab|', { a: { k: 'A', v: 'a', t: 100 }, b: { k: 'A', v: 'b', t: 98 } });
    expectObservable(show(input.pipe(seq([step('a'), step('b')], { ...base(5), scheduler: s })))).toBe('-m|', { m: 'mA:ab' });
    const tooLate = cold('ab|', { a: { k: 'A', v: 'a', t: 100 }, b: { k: 'A', v: 'b', t: 106 } });
    expectObservable(show(tooLate.pipe(seq([step('a'), step('b')], { ...base(5), scheduler: s })))).toBe('-t|', { t: 'tA:a' });
  });
});

t.test('and(a, b): both within T, in any order; a partial times out', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('bxa-a------', values).pipe(timed(s), allOf([step('a'), step('b')], { ...base(5), scheduler: s }));
    expectObservable(show(out)).toBe('--m------t-', { m: 'mA:ab', t: 'tA:a' });
  });
});

t.test('partial matches handed over survive re-subscription', async (t) => {
  const shared = { partials: new Map(), deadlines: new Map() };
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    expectObservable(show(cold('a|', values).pipe(timed(s), seq([step('a'), step('b')], { ...base(10), scheduler: s, shared })))).toBe(
      '-|',
    );
  });
  const s2 = marbleScheduler(t);
  s2.run(({ cold, expectObservable }) => {
    expectObservable(show(cold('b|', values).pipe(timed(s2), seq([step('a'), step('b')], { ...base(10), scheduler: s2, shared })))).toBe(
      'm|',
      {
        m: 'mA:ab',
      },
    );
  });
});
