import t from 'tap';
import { map } from 'rxjs';
import { debounceByKey, dedupe } from '../../src/cep/operators/noise.js';
import { bug, marbleScheduler, operatorContract, type Reading } from '../helpers/operator-contract.js';

const values: Record<string, Reading> = {
  a: { k: 'A', v: 1 },
  b: { k: 'A', v: 2 },
  c: { k: 'A', v: 3 },
  B: { k: 'B', v: 1 },
  x: { k: 'A' },
};
const show = map((r: Reading) => `${r.k}${r.v ?? ''}`);

operatorContract(
  t,
  'debounce',
  (s) => debounceByKey({ keyOf: (r: Reading) => r.k, quietMs: 5, scheduler: s }),
  (s) => debounceByKey({ keyOf: bug, quietMs: 5, scheduler: s }),
);
operatorContract(
  t,
  'dedupe',
  (s) => dedupe({ keyOf: (r: Reading) => r.k, idOf: (r) => r.v, withinMs: 5, scheduler: s }),
  (s) => dedupe({ keyOf: (r: Reading) => r.k, idOf: bug, withinMs: 5, scheduler: s }),
  { marble: '-a--', values: { a: { k: 'A', v: 1 } } },
);

t.test('debounce: the last event of a burst, once the key is quiet; keys apart; pending ones flushed on completion', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('abB-c------a|', values).pipe(debounceByKey({ keyOf: (r) => r.k, quietMs: 3, scheduler: s }), show);
    expectObservable(out).toBe('-----x-y----(z|)', { x: 'B1', y: 'A3', z: 'A1' });
  });
});

t.test('dedupe: a repeated id within T is dropped, after T it passes; events without an id always pass', async (t) => {
  const s = marbleScheduler(t);
  const dropped: string[] = [];
  s.run(({ cold, expectObservable }) => {
    const out = cold('aaBbxx----a|', values).pipe(
      dedupe({ keyOf: (r) => r.k, idOf: (r) => r.v, withinMs: 5, scheduler: s, onDuplicate: (r) => dropped.push(`${r.k}${r.v}`) }),
      show,
    );
    expectObservable(out).toBe('a-Bbxy----c|', { a: 'A1', B: 'B1', b: 'A2', x: 'A', y: 'A', c: 'A1' });
  });
  t.same(dropped, ['A1']);
});

t.test('dedupe keeps at most maxIds ids, forgetting the oldest (out-of-order ids are still ids)', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const out = cold('abca|', values).pipe(dedupe({ keyOf: (r) => r.k, idOf: (r) => r.v, withinMs: 100, maxIds: 2, scheduler: s }), show);
    expectObservable(out).toBe('abcd|', { a: 'A1', b: 'A2', c: 'A3', d: 'A1' });
  });
});
