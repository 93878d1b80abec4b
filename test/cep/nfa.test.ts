import t from 'tap';
import { map, Subject } from 'rxjs';
import { nfa, nfaAnyOf, type KeyRuns, type NfaStep } from '../../src/cep/operators/nfa.js';
import type { Seen } from '../../src/cep/operators/quiet-keys.js';
import { bug, marbleScheduler, operatorContract, showMatches, type Reading } from '../helpers/operator-contract.js';

const values: Record<string, Reading> = {
  a: { k: 'A', v: 'a' },
  b: { k: 'A', v: 'b' },
  x: { k: 'A', v: 'x' },
  B: { k: 'B', v: 'b' },
  A: { k: 'B', v: 'a' },
};
const is = (v: string) => (r: Reading) => r.v === v;
const step = (v: string, more: Partial<NfaStep<Reading>> = {}): NfaStep<Reading> => ({ name: v, where: is(v), ...more });
const base = (withinMs = 5) => ({ keyOf: (r: Reading) => r.k, timeOf: (r: Reading) => r.t ?? 0, withinMs });
const show = showMatches;
const timed = (s: { now(): number }) => map((r: Reading) => ({ ...r, t: r.t ?? s.now() }));

operatorContract(
  t,
  'nfa',
  (s) => (src) => src.pipe(timed(s), nfa([step('a'), step('b')], { ...base(), scheduler: s })),
  (s) => (src) => src.pipe(nfa([{ name: 'a', where: bug }], { ...base(), scheduler: s })),
);

operatorContract(
  t,
  'nfa alternatives',
  (s) => (src) => src.pipe(timed(s), nfaAnyOf([[step('a'), step('b')], [step('x')]], { ...base(), scheduler: s })),
  (s) => (src) => src.pipe(nfaAnyOf([[step('a')], [{ name: 'x', where: bug }]], { ...base(), scheduler: s })),
);

t.test('nfa: single, many, keys independent, several partial matches per key at once', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('aAab----B|', values).pipe(timed(s), nfa([step('a'), step('b')], { ...base(10), scheduler: s }));
    expectObservable(show(out)).toBe('---(mn)-o|', { m: 'mA:ab', n: 'mA:ab', o: 'mB:ab' });
  });
});

t.test('nfa: each partial match times out at its own deadline, whatever else the key sends meanwhile', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('a-xa-x-x---|', values).pipe(timed(s), nfa([step('a'), step('b')], { ...base(4), scheduler: s }));
    expectObservable(show(out)).toBe('-----t--t--|', { t: 'tA:a' });
  });
});

t.test('nfa: alternatives (or of sequences): each may begin a match; a match skips the partial matches of all of them', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const alternatives = [
      [step('a'), step('b')],
      [step('b', { name: 'b2' }), step('a', { name: 'a2' })],
    ];
    const out = cold('ab-ba-a-x-b|', values).pipe(
      timed(s),
      nfaAnyOf(alternatives, { ...base(10), scheduler: s, skip: { to: 'skipPastLastEvent' } }),
    );
    // ab, then ba (the b that began it is past the first match), then ab again.
    expectObservable(show(out)).toBe('-m--n-----m|', { m: 'mA:ab', n: 'mA:ba' });
  });
});

t.test('nfa: a key that goes quiet times out by the scheduler, with what it had', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('a------|', values).pipe(timed(s), nfa([step('a'), step('b')], { ...base(3), scheduler: s }));
    expectObservable(show(out)).toBe('----t--|', { t: 'tA:a' });
  });
});

t.test(
  'nfa: a final notFollowedBy matches when within has passed since the first event (other events do not delay it), not when the event comes',
  async (t) => {
    const s = marbleScheduler(t);
    s.run(({ cold, expectObservable }) => {
      const steps = [step('a'), step('b', { negative: true })];
      expectObservable(show(cold('a-x----|', values).pipe(timed(s), nfa(steps, { ...base(3), scheduler: s })))).toBe('----m--|', {
        m: 'mA:a',
      });
      expectObservable(show(cold('a-b----|', values).pipe(timed(s), nfa(steps, { ...base(3), scheduler: s })))).toBe('-------|');
    });
  },
);

t.test('nfa: out-of-order input is taken in arrival order; an event older than within behind its key is late', async (t) => {
  const s = marbleScheduler(t);
  const late: string[] = [];
  s.run(({ cold, expectObservable }) => {
    const input = {
      a: { k: 'A', v: 'a', t: 10 },
      b: { k: 'A', v: 'b', t: 8 },
      o: { k: 'A', v: 'b', t: 2 },
    };
    const out = cold('aob|', input).pipe(
      nfa([step('a'), step('b')], { ...base(5), scheduler: s, onLate: (k, r) => late.push(`${k}${r.t}`) }),
    );
    expectObservable(show(out)).toBe('--m|', { m: 'mA:ab' });
  });
  t.same(late, ['A2']);
});

t.test('nfa: partial matches survive a re-subscription through shared state (rule hot swap)', async (t) => {
  const shared = { keys: new Map<string, KeyRuns<Reading>>(), deadlines: new Map() as Seen<undefined> };
  const input = new Subject<Reading>();
  const out: string[] = [];
  const first = show(input.pipe(nfa([step('a'), step('b')], { ...base(1000), shared }))).subscribe((m) => out.push(m));
  input.next({ k: 'A', v: 'a', t: 1 });
  first.unsubscribe();
  t.equal(shared.keys.size, 1);
  const second = show(input.pipe(nfa([step('a'), step('b')], { ...base(1000), shared }))).subscribe((m) => out.push(m));
  input.next({ k: 'A', v: 'b', t: 2 });
  second.unsubscribe();
  t.same(out, ['mA:ab']);
});

t.test('nfa: a throwing condition on a later step errors the stream', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('ab', values).pipe(timed(s), nfa([step('a'), { name: 'b', where: bug }], { ...base(), scheduler: s }));
    expectObservable(out).toBe('-#', undefined, new Error('callback bug'));
  });
});

t.test('nfa: a step within alone (no pattern within) still times out a quiet key by the scheduler', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('a------|', values).pipe(
      timed(s),
      nfa([step('a'), step('b', { withinMs: 2 })], { keyOf: (r: Reading) => r.k, timeOf: (r: Reading) => r.t ?? 0, scheduler: s }),
    );
    expectObservable(show(out)).toBe('---t---|', { t: 'tA:a' });
  });
});
