import t from 'tap';
import { map } from 'rxjs';
import { intervalJoin, latestJoin, type Joined } from '../../src/cep/operators/join.js';
import { bug, marbleScheduler, operatorContract, type Reading } from '../helpers/operator-contract.js';

const show = map((j: Joined<Reading, Reading>) => `${j.event.k}${j.event.v}:${j.other ? String(j.other.v) : '-'}`);
const key = (r: Reading): string => r.k;
const time = (r: Reading): number => r.t ?? 0;

operatorContract(
  t,
  'latest join',
  (s) => latestJoin(s.createColdObservable<Reading>('-'), { keyOf: key, otherKeyOf: key, requireOther: true }),
  (s) => latestJoin(s.createColdObservable<Reading>('-'), { keyOf: bug, otherKeyOf: key }),
);
operatorContract(
  t,
  'interval join',
  (s) => intervalJoin(s.createColdObservable<Reading>('-'), { keyOf: key, otherKeyOf: key, timeOf: time, otherTimeOf: time, withinMs: 5 }),
  (s) => intervalJoin(s.createColdObservable<Reading>('-'), { keyOf: bug, otherKeyOf: key, timeOf: time, otherTimeOf: time, withinMs: 5 }),
);

t.test('latest join: each event with the newest value of the other stream for its key', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, hot, expectObservable }) => {
    const other = hot('-x--y----', { x: { k: 'A', v: 20 }, y: { k: 'A', v: 21 } });
    const events = cold('a-bB-c|', { a: { k: 'A', v: 1 }, b: { k: 'A', v: 2 }, B: { k: 'B', v: 3 }, c: { k: 'A', v: 4 } });
    expectObservable(events.pipe(latestJoin(other, { keyOf: key, otherKeyOf: key }), show)).toBe('a-bB-c|', {
      a: 'A1:-',
      b: 'A2:20',
      B: 'B3:-',
      c: 'A4:21',
    });
  });
});

t.test('latest join with requireOther drops events that have no partner yet; an error of the other stream passes', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, hot, expectObservable }) => {
    const other = hot('-x--#', { x: { k: 'A', v: 20 } });
    const events = cold('a-b--', { a: { k: 'A', v: 1 }, b: { k: 'A', v: 2 } });
    expectObservable(events.pipe(latestJoin(other, { keyOf: key, otherKeyOf: key, requireOther: true }), show)).toBe('--b-#', {
      b: 'A2:20',
    });
  });
});

t.test('interval join: pairs within ±T by event time, whichever side comes first, out of order too; old items pruned', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, hot, expectObservable }) => {
    const other = hot('--x---y-', { x: { k: 'A', v: 'x', t: 103 }, y: { k: 'A', v: 'y', t: 130 } });
    const events = cold('a--bc--d|', {
      a: { k: 'A', v: 'a', t: 100 },
      b: { k: 'A', v: 'b', t: 99 },
      c: { k: 'A', v: 'c', t: 90 },
      d: { k: 'A', v: 'd', t: 128 },
    });
    const joined = events.pipe(intervalJoin(other, { keyOf: key, otherKeyOf: key, timeOf: time, otherTimeOf: time, withinMs: 5 }), show);
    expectObservable(joined).toBe('--xb---d|', { x: 'Aa:x', b: 'Ab:x', d: 'Ad:y' });
  });
});
