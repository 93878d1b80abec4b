import t from 'tap';
import { map, mergeMap, from } from 'rxjs';
import { mismatch, type Disagreement } from '../../src/cep/operators/mismatch.js';
import { bug, marbleScheduler, operatorContract, type Reading } from '../helpers/operator-contract.js';

/** Reading: k = device, v = model version; every device is in one group. */
const v = (k: string, version: string): Reading => ({ k, v: version });
const values: Record<string, Reading> = {
  a: v('A', '1.2'),
  b: v('B', '1.2'),
  c: v('C', '1.1'),
  C: v('C', '1.2'),
  d: v('D', '1.10'),
  e: v('E', '1.10'),
  x: { k: 'A' },
};
const options = {
  groupOf: () => 'g',
  memberOf: (r: Reading) => r.k,
  valueOf: (r: Reading) => (r.v === undefined ? undefined : String(r.v)),
};
const show = (o: ReturnType<ReturnType<typeof mismatch<Reading>>>) =>
  o.pipe(
    mergeMap((changes) => from(changes)),
    map((c: Disagreement<Reading>) => `${c.key}${c.state === 'raised' ? '!' : '='}${c.value}/${c.majority}`),
  );

operatorContract(
  t,
  'mismatch',
  () => mismatch(options),
  () => mismatch({ ...options, valueOf: bug }),
);

t.test('a member on another version than the majority is raised until it agrees; events without a value are skipped', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    expectObservable(show(cold('abcxaC|', values).pipe(mismatch(options)))).toBe('--r--c|', { r: 'C!1.1/1.2', c: 'C=1.2/1.2' });
  });
});

t.test('a tie goes to the newest version (numeric order: 1.10 > 1.2), and the losers are raised', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    expectObservable(show(cold('adeb|', values).pipe(mismatch(options)))).toBe('-x-y|', { x: 'A!1.2/1.10', y: 'B!1.2/1.10' });
  });
});

t.test('with values kept by member too: an unchanged value is skipped, a member moving to another group joins it', async (t) => {
  const s = marbleScheduler(t);
  type Moved = { k: string; g: string; v: string };
  const moved = { groupOf: (r: Moved) => r.g, memberOf: (r: Moved) => r.k, valueOf: (r: Moved) => r.v };
  const byMember = new Map<string, { group: string; value: string }>();
  s.run(({ cold, expectObservable }) => {
    const input = cold<Moved>('abc', {
      a: { k: 'M1', g: 'A', v: '1' },
      b: { k: 'M2', g: 'B', v: '2' },
      c: { k: 'M1', g: 'B', v: '1' },
    });
    expectObservable(
      input.pipe(
        mismatch(moved, new Map(), byMember),
        mergeMap((changes) => from(changes)),
        map((c) => `${c.key}${c.state === 'raised' ? '!' : '='}${c.value}/${c.majority}`),
      ),
    ).toBe('--x', { x: 'M1!1/2' });
  });
  t.same(byMember.get('M1'), { group: 'B', value: '1' });
});
