// The documented examples of the Flink CEP pattern API and Esper's pattern reference, replayed
// through the NFA: each test is named after the section it comes from and expects the matches that
// section lists (docs/rules.md, "Patterns", says where a documented list is wrong and why).
import t, { type Test } from 'tap';
import { from, lastValueFrom, toArray } from 'rxjs';
import { nfa, type NfaOptions, type NfaOutput, type NfaStep } from '../../src/cep/operators/nfa.js';

interface E {
  k: string;
  v: string;
  t: number;
}

/** `"a b1 c"` → events of key K, one per ms. */
const stream = (text: string, k = 'K'): E[] => text.split(' ').map((v, i) => ({ k, v, t: i }));
const kind = (v: string) => v.replace(/[0-9]+$/, '').toLowerCase();
const is =
  (...kinds: string[]) =>
  (e: E) =>
    kinds.includes(kind(e.v));
const step = (name: string, more: Partial<NfaStep<E>> = {}): NfaStep<E> => ({ name, where: is(name), ...more });
const base: NfaOptions<E> = { keyOf: (e) => e.k, timeOf: (e) => e.t };

async function run(text: string | E[], steps: NfaStep<E>[], o: Partial<NfaOptions<E>> = {}): Promise<NfaOutput<E>[]> {
  const events = typeof text === 'string' ? stream(text) : text;
  return lastValueFrom(from(events).pipe(nfa(steps, { ...base, ...o }), toArray()));
}
/** Matches as "a b1 c", in emission order. */
const matches = (out: NfaOutput<E>[]) =>
  out
    .filter((m) => m.type === 'match')
    .map((m) =>
      Object.values(m.events)
        .flat()
        .sort((x, y) => x.t - y.t)
        .map((e) => e.v)
        .join(' '),
    );
const same = (t: Test, got: string[], want: string[]) => t.same([...got].sort(), [...want].sort(), `got ${got.join(' | ')}`);

t.test('Flink "Combining Patterns": "a b" on a c b1 b2 under the three contiguities', async (t) => {
  const a = step('a');
  same(t, matches(await run('a c b1 b2', [a, step('b', { contiguity: 'next' })])), []);
  same(t, matches(await run('a c b1 b2', [a, step('b', { contiguity: 'followedBy' })])), ['a b1']);
  same(t, matches(await run('a c b1 b2', [a, step('b', { contiguity: 'followedByAny' })])), ['a b1', 'a b2']);
});

t.test(
  'Flink "Contiguity within looping patterns": a b+ c on a b1 d1 b2 d2 b3 c (strict result as corrected by FLINK-28880)',
  async (t) => {
    const input = 'a b1 d1 b2 d2 b3 c';
    const pattern = (loop: 'consecutive' | 'relaxed' | 'combinations') => [
      step('a'),
      step('b', { contiguity: 'followedByAny', max: Infinity, loop }),
      step('c'),
    ];
    same(t, matches(await run(input, pattern('consecutive'))), ['a b1 c', 'a b2 c', 'a b3 c']);
    same(t, matches(await run(input, pattern('relaxed'))), ['a b1 c', 'a b1 b2 c', 'a b1 b2 b3 c', 'a b2 c', 'a b2 b3 c', 'a b3 c']);
    same(t, matches(await run(input, pattern('combinations'))), [
      'a b1 c',
      'a b1 b2 c',
      'a b1 b3 c',
      'a b1 b2 b3 c',
      'a b2 c',
      'a b2 b3 c',
      'a b3 c',
    ]);
  },
);

const cab = (loop: 'consecutive' | 'relaxed' | 'combinations') => [step('c'), step('a', { max: Infinity, loop }), step('b')];

t.test('Flink "consecutive()": C D A1 A2 A3 D A4 B with and without', async (t) => {
  same(t, matches(await run('C D A1 A2 A3 D A4 B', cab('consecutive'))), ['C A1 B', 'C A1 A2 B', 'C A1 A2 A3 B']);
  same(t, matches(await run('C D A1 A2 A3 D A4 B', cab('relaxed'))), ['C A1 B', 'C A1 A2 B', 'C A1 A2 A3 B', 'C A1 A2 A3 A4 B']);
});

t.test('Flink "allowCombinations()": C D A1 A2 A3 D A4 B, the eight matches that start at A1', async (t) => {
  same(t, matches(await run('C D A1 A2 A3 D A4 B', cab('combinations'))), [
    'C A1 B',
    'C A1 A2 B',
    'C A1 A3 B',
    'C A1 A4 B',
    'C A1 A2 A3 B',
    'C A1 A2 A4 B',
    'C A1 A3 A4 B',
    'C A1 A2 A3 A4 B',
  ]);
});

t.test('Flink "Conditions" stop condition: (a+ until b) on a1 c a2 b a3', async (t) => {
  const out = await run('a1 c a2 b a3', [step('a', { max: Infinity, until: is('b') })]);
  same(t, matches(out), ['a1 a2', 'a1', 'a2', 'a3']);
});

const bc = [step('b', { max: Infinity, greedy: true }), step('c')];
t.test('Flink "After Match Skip Strategy": b+ c on b1 b2 b3 c', async (t) => {
  const input = 'b1 b2 b3 c';
  same(t, matches(await run(input, bc, { skip: { to: 'noSkip' } })), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']);
  same(t, matches(await run(input, bc, { skip: { to: 'skipToNext' } })), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']);
  same(t, matches(await run(input, bc, { skip: { to: 'skipPastLastEvent' } })), ['b1 b2 b3 c']);
  same(t, matches(await run(input, bc, { skip: { to: 'skipToFirst', step: 'b' } })), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']);
  same(t, matches(await run(input, bc, { skip: { to: 'skipToLast', step: 'b' } })), ['b1 b2 b3 c', 'b3 c']);
});

t.test('Flink "After Match Skip Strategy": (a | b | c) (b | c) c+.greedy d on a b c1 c2 c3 d', async (t) => {
  const steps: NfaStep<E>[] = [
    { name: 'abc', where: is('a', 'b', 'c') },
    { name: 'bc', where: is('b', 'c') },
    step('c', { max: Infinity, greedy: true }),
    step('d'),
  ];
  const input = 'a b c1 c2 c3 d';
  same(t, matches(await run(input, steps)), ['a b c1 c2 c3 d', 'b c1 c2 c3 d', 'c1 c2 c3 d']);
  same(t, matches(await run(input, steps, { skip: { to: 'skipToFirst', step: 'c' } })), ['a b c1 c2 c3 d', 'c1 c2 c3 d']);
});

t.test('Flink "After Match Skip Strategy": a b+ on a b1 b2 b3', async (t) => {
  const steps = [step('a'), step('b', { max: Infinity })];
  same(t, matches(await run('a b1 b2 b3', steps)), ['a b1', 'a b1 b2', 'a b1 b2 b3']);
  same(t, matches(await run('a b1 b2 b3', steps, { skip: { to: 'skipToNext' } })), ['a b1']);
});

t.test('Flink "After Match Skip Strategy": skipToFirst of a step with no event falls back to noSkip', async (t) => {
  const steps = [step('a'), step('x', { min: 0 }), step('b')];
  same(t, matches(await run('a1 a2 b', steps, { skip: { to: 'skipToFirst', step: 'x' } })), ['a1 b', 'a2 b']);
});

t.test('Flink "Quantifiers": times(2, 4), times(4).optional(), timesOrMore(2)', async (t) => {
  const twoToFour = [step('s'), step('a', { min: 2, max: 4, loop: 'consecutive' }), step('e', { contiguity: 'next' })];
  same(t, matches(await run('s a1 a2 a3 e', twoToFour)), ['s a1 a2 a3 e']);
  same(t, matches(await run('s a1 e', twoToFour)), []);
  same(t, matches(await run('s a1 a2 a3 a4 a5 e', twoToFour)), []);
  const fourOrNone = [step('s'), step('a', { min: 4, max: 4, optional: true }), step('e', { contiguity: 'next' })];
  same(t, matches(await run('s e', fourOrNone)), ['s e']);
  same(t, matches(await run('s a1 e', fourOrNone)), []);
  same(t, matches(await run('s a1 a2 a3 a4 e', fourOrNone)), ['s a1 a2 a3 a4 e']);
  const twoOrMore = [step('s'), step('a', { min: 2, max: Infinity }), step('e', { contiguity: 'next' })];
  same(t, matches(await run('s a1 a2 a3 e', twoOrMore)), ['s a1 a2 a3 e']);
});

t.test('Flink "Combining Patterns": notNext and notFollowedBy inside a sequence, notFollowedBy at the end with within', async (t) => {
  const notNext = [step('a'), step('x', { negative: true, contiguity: 'next' }), step('b')];
  same(t, matches(await run('a x b', notNext)), []);
  same(t, matches(await run('a c x b', notNext)), ['a b']);
  const notAfter = [step('a'), step('x', { negative: true }), step('b')];
  same(t, matches(await run('a c x b', notAfter)), []);
  same(t, matches(await run('a c b x', notAfter)), ['a b']);
  const atEnd = [step('a'), step('b', { negative: true })];
  // a at 0 with no b until the within (3 ms) has passed: a match, seen at the next event of the key.
  same(t, matches(await run('a c c c c', atEnd, { withinMs: 3 })), ['a']);
  same(t, matches(await run('a c b c c', atEnd, { withinMs: 3 })), []);
  t.throws(() => nfa(atEnd, base), /notFollowedBy only, and only with within/);
});

t.test('Flink "within": a partial match older than within times out with what it had', async (t) => {
  const out = await run('a c c c b', [step('a'), step('b')], { withinMs: 3 });
  t.same(matches(out), []);
  const timeout = out.find((m) => m.type === 'timeout')!;
  t.same(timeout.type === 'timeout' && [timeout.waitingFor, timeout.events.a!.map((e) => e.v)], ['b', ['a']]);
});

t.test('per step within: the step first event at most this long after the previous step', async (t) => {
  same(t, matches(await run('a c b', [step('a'), step('b', { withinMs: 2 })])), ['a b']);
  same(t, matches(await run('a c c b', [step('a'), step('b', { withinMs: 2 })])), []);
});

t.test('Flink "Iterative Conditions": a condition reads the events earlier steps took', async (t) => {
  const ev = (v: string, n: number, i: number): E & { n: number } => ({ k: 'K', v, t: i, n });
  const input = [ev('a', 1, 0), ev('b', 1, 1), ev('b', 5, 2)];
  const steps: NfaStep<E & { n: number }>[] = [
    { name: 'a', where: is('a') },
    { name: 'b', where: (e, taken) => is('b')(e) && e.n > taken.last('a')!.n },
  ];
  const out = await lastValueFrom(from(input).pipe(nfa(steps, { keyOf: (e) => e.k, timeOf: (e) => e.t }), toArray()));
  t.same(
    out.map((m) => m.events.b!.map((e) => e.n)),
    [[5]],
  );
});

// Esper, "Event Pattern Operators" → "Every": A1 B1 C1 B2 A2 D1 A3 B3 E1 A4 F1 B4
const esper = 'A1 B1 C1 B2 A2 D1 A3 B3 E1 A4 F1 B4';
t.test('Esper "Every": every (A -> B) is followedBy with skipPastLastEvent', async (t) => {
  same(t, matches(await run(esper, [step('a'), step('b')], { skip: { to: 'skipPastLastEvent' } })), ['A1 B1', 'A2 B3', 'A4 B4']);
});
t.test('Esper "Every": every A -> B is followedBy with noSkip', async (t) => {
  same(t, matches(await run(esper, [step('a'), step('b')])), ['A1 B1', 'A2 B3', 'A3 B3', 'A4 B4']);
});
t.test('Esper "Every": every A -> every B is followedByAny with noSkip', async (t) => {
  same(t, matches(await run(esper, [step('a'), step('b', { contiguity: 'followedByAny' })])), [
    'A1 B1',
    'A1 B2',
    'A1 B3',
    'A2 B3',
    'A3 B3',
    'A1 B4',
    'A2 B4',
    'A3 B4',
    'A4 B4',
  ]);
});
t.test('Esper "Not": every a=A -> (b=B and not A) on A1 A2 B1 is notFollowedBy inside the sequence', async (t) => {
  same(t, matches(await run('A1 A2 B1', [step('a'), step('b')])), ['A1 B1', 'A2 B1']);
  same(t, matches(await run('A1 A2 B1', [step('a'), step('na', { where: is('a'), negative: true }), step('b')])), ['A2 B1']);
});
t.test('Esper "Suppressing Same-Event Matches": @SuppressOverlappingMatches every a=A -> b=B reads as skipPastLastEvent', async (t) => {
  same(t, matches(await run('A1 A2 B1', [step('a'), step('b')], { skip: { to: 'skipPastLastEvent' } })), ['A1 B1']);
});
t.test('Esper "Every" with timer:within: every A -> (B -> C) on A1 A2 B1 C1 B2 C2', async (t) => {
  same(t, matches(await run('A1 A2 B1 C1 B2 C2', [step('a'), step('b'), step('c')], { withinMs: 3_600_000 })), ['A1 B1 C1', 'A2 B1 C1']);
});
t.test('Esper "Every" correlated on id: every a=A -> (B(id=a.id) -> C(id=a.id)) is keyed by id', async (t) => {
  const input: E[] = [
    { k: 'id1', v: 'A1', t: 0 },
    { k: 'id2', v: 'A2', t: 1 },
    { k: 'id1', v: 'B1', t: 2 },
    { k: 'id1', v: 'C1', t: 3 },
    { k: 'id2', v: 'B2', t: 4 },
    { k: 'id2', v: 'C2', t: 5 },
  ];
  same(t, matches(await run(input, [step('a'), step('b'), step('c')])), ['A1 B1 C1', 'A2 B2 C2']);
});

t.test('partial matches per key are capped, the oldest dropped and counted', async (t) => {
  let dropped = 0;
  const steps = [step('a'), step('b')];
  const out = await run('a1 a2 a3 a4 b', steps, { maxPartials: 2, onOverflow: (_k, n) => (dropped += n) });
  same(t, matches(out), ['a3 b', 'a4 b']);
  t.equal(dropped, 2);
});

t.test('a pattern that cannot be built says why', async (t) => {
  t.throws(() => nfa([], base), /at least one step/);
  t.throws(() => nfa([step('a', { min: 0 })], base), /first step/);
  t.throws(() => nfa([step('a'), step('a')], base), /unique/);
  t.throws(() => nfa([step('a'), step('b', { min: 3, max: 2 })], base), /max must be/);
  t.throws(() => nfa([step('a'), step('b', { min: 0 }), step('x', { negative: true }), step('c')], base), /cannot follow an optional/);
  t.throws(() => nfa([step('a'), step('x', { negative: true, max: 2 }), step('c')], base), /no quantifier/);
  t.throws(() => nfa([step('a')], { ...base, skip: { to: 'skipToLast', step: 'z' } }), /unknown step z/);
});
