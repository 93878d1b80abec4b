// The pattern language as rules (YAML through the planner), on documented examples: Esper's
// "And", "Or" and "Not" sections, which the planner builds from `and`, `or` and negative steps.
import t, { type Test } from 'tap';
import { ruleSchema } from '../../src/cep/rules/language.js';
import { checkRule } from '../../src/cep/rules/check-fields.js';
import { replay } from '../../src/cli/replay.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

/** "A1 B1 C1": events of device K labelled a, b, c, one per second. */
const stream = (text: string): InferenceEvent[] =>
  text.split(' ').map((v, i) => ({ device: 'K', ts: i * 1000, seq: i, model: { name: 'm', version: '1' }, label: v }));
const label = (l: string) => ({ field: 'label', in: [1, 2, 3, 4, 5].map((n) => `${l}${n}`) });

/** The matches of a pattern stage over the events, each as its events' labels in time order. */
function matches(t: Test, pattern: Record<string, unknown>, text: string): string[] {
  const spec = ruleSchema.parse({
    id: 'p',
    pipeline: [{ pattern: { within: '1h', emit: 'match', matched: { fields: ['label', 'ts'] }, ...pattern } }],
    outputs: { derived: {} },
  });
  t.same(checkRule(spec), [], 'the rule passes check');
  const out: string[] = [];
  replay([spec], stream(text), (o) => {
    if (o.type !== 'derived') return;
    const f = o.event.fields;
    const taken = Object.keys(f)
      .filter((k) => k.endsWith('.label'))
      .map((k) => [f[k.replace(/label$/, 'ts')] as number, f[k] as string] as const);
    out.push(
      taken
        .sort((a, b) => a[0] - b[0])
        .map(([, l]) => l)
        .join(' '),
    );
  });
  return out;
}
const same = (t: Test, got: string[], want: string[]) => t.same([...got].sort(), [...want].sort(), `got ${got.join(' | ')}`);
const A = { name: 'a', where: label('A') };
const B = { name: 'b', where: label('B') };
const C = { name: 'c', where: label('C') };
const D = { name: 'd', where: label('D') };

t.test('Esper "And": A and B matches when both arrived, at the time the last of the two arrives, in either order', async (t) => {
  same(t, matches(t, { and: [A, B] }, 'B1 C1 A1'), ['B1 A1']);
  same(t, matches(t, { and: [A, B] }, 'A1 C1 B1'), ['A1 B1']);
  // every (A and B): after a match the next one needs new events.
  same(t, matches(t, { and: [A, B] }, 'A1 B1 A2 C1 B2'), ['A1 B1', 'A2 B2']);
});

t.test('Esper "And": (A -> B) and (C -> D) matches A B then C D, or C D then A B', async (t) => {
  const pattern = { and: [{ seq: [A, B] }, { seq: [C, D] }] };
  same(t, matches(t, pattern, 'A1 B1 C1 D1'), ['A1 B1 C1 D1']);
  same(t, matches(t, pattern, 'C1 D1 A1 B1'), ['C1 D1 A1 B1']);
  // The reference lists these two orders; an interleaving is not one of them (docs/rules.md).
  same(t, matches(t, pattern, 'A1 C1 B1 D1'), []);
});

t.test('Esper "Or": every A or every B outputs all A and B events', async (t) => {
  same(t, matches(t, { or: [A, B], skip: 'noSkip' }, 'A1 C1 B1 A2'), ['A1', 'B1', 'A2']);
});

t.test('Esper "Not": A -> (D and not (B or C)) is A, then D with no B or C between', async (t) => {
  const pattern = { seq: [A, { name: 'x', not: true, where: { any: [label('B'), label('C')] } }, D] };
  same(t, matches(t, pattern, 'A1 D1'), ['A1 D1']);
  same(t, matches(t, pattern, 'A1 C1 D1'), []);
  same(t, matches(t, pattern, 'A1 B1 A2 D1'), ['A2 D1']);
});

t.test('Esper "Followed-By": every A -> (timer:interval(5 min) and not B) is A not followed by B within 5 min', async (t) => {
  const pattern = { seq: [A, { name: 'nb', not: true, where: label('B') }], within: '5m', skip: 'noSkip' };
  // A1 is followed by B1; A2 is not, so it matches once its 5 minutes pass (the event at 10 min moves time on).
  const events = [...stream('A1 B1 A2'), { device: 'K', ts: 600_000, model: { name: 'm', version: '1' }, label: 'E1' }];
  const spec = ruleSchema.parse({
    id: 'p',
    pipeline: [{ pattern: { emit: 'match', matched: { fields: ['label'] }, ...pattern } }],
    outputs: { derived: {} },
  });
  const out: string[] = [];
  replay([spec], events, (o) => o.type === 'derived' && out.push(`${String(o.event.fields['a.0.label'])}@${o.event.ts}`));
  t.same(out, ['A2@302000']);
});

t.test('check refuses what the NFA could not build, with the path', async (t) => {
  const problems = (pattern: Record<string, unknown>) =>
    checkRule(ruleSchema.parse({ id: 'p', pipeline: [{ pattern: { within: '1m', ...pattern } }], outputs: { derived: {} } })).map(
      (p) => `${p.path.join('.')}: ${p.message}`,
    );
  t.same(problems({ and: [A, { ...B, not: true }] }), ['pipeline.0.pattern.and.1.not: a step of and cannot be negative']);
  t.same(problems({ or: [{ seq: [{ ...A, optional: true }, B] }, C] }), [
    'pipeline.0.pattern.or.0.seq.0.optional: the first step of a sequence cannot be optional',
  ]);
  t.same(problems({ and: [{ seq: [A, B] }, { seq: [C, { ...A }] }] }), [
    "pipeline.0.pattern.and.1.seq.1.name: step name 'a' is used twice; a match keys its events by name",
  ]);
  t.same(problems({ seq: [A, { ...B, where: { field: 'anomaly', gt: { step: 'z', field: 'anomaly' } } }] }), [
    "pipeline.0.pattern.seq.1.where.gt.step: no step 'z' before this one (steps: a, b)",
  ]);
  t.same(problems({ seq: [A, B], skip: { skipToLast: 'q' } }), [
    "pipeline.0.pattern.skip: skip names step 'q', which the pattern does not have",
  ]);
  t.same(
    checkRule(
      ruleSchema.parse({
        id: 'p',
        pipeline: [{ filter: { field: 'anomaly', gt: { step: 'a', field: 'anomaly' } } }],
        outputs: { derived: {} },
      }),
    ).map((p) => p.message),
    ['a step reference works only in a pattern step'],
  );
});

t.test('Esper "Repeat": [5] A fires on the fifth A; [5] (A or B) on the fifth of either', async (t) => {
  same(t, matches(t, { seq: [{ ...A, times: 5 }] }, 'A1 C1 A2 A3 A4 B1 A5'), ['A1 A2 A3 A4 A5']);
  same(t, matches(t, { seq: [{ name: 'ab', where: { any: [label('A'), label('B')] }, times: 5 }] }, 'A1 C1 B1 A2 B2 A3'), [
    'A1 B1 A2 B2 A3',
  ]);
});

t.test('Esper "Repeat": every [2] (a=A and not C) is every pair of A with no C between', async (t) => {
  const pattern = { seq: [A, { name: 'nc', not: true, where: label('C') }, { name: 'a2', where: label('A') }] };
  same(t, matches(t, pattern, 'A1 A2 C1 A3 A4 A5'), ['A1 A2', 'A3 A4']);
});

t.test('Esper "Repeat-Until": [3:] A until B needs three A before B, and takes every A until it', async (t) => {
  const pattern = { seq: [{ ...A, timesOrMore: 3, greedy: true }, B] };
  same(t, matches(t, pattern, 'A1 A2 B1'), []);
  same(t, matches(t, pattern, 'A1 A2 A3 A4 B1'), ['A1 A2 A3 A4 B1']);
});

t.test('Esper "Repeat-Until": [1:3] a=A until B matches on B after at least one A, with the first three A', async (t) => {
  const pattern = { seq: [{ ...A, times: [1, 3], greedy: true }, B] };
  same(t, matches(t, pattern, 'B1 A1 A2 A3 A4 B2'), ['A1 A2 A3 B2']);
});
