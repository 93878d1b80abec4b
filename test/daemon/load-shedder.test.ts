import t from 'tap';
import { LoadShedder } from '../../src/daemon/load-shedder.js';

/** A shedder on a hand-moved clock whose event loop is as slow as the test says. */
function harness(maxDelay = 40) {
  let now = 0;
  let delay = 0;
  const shed: string[] = [];
  const s = new LoadShedder(
    { enabled: true, maxDelay, interval: 100 },
    { now: () => now },
    (source) => shed.push(source),
    () => () => delay,
  );
  /** One 100 ms interval: `offered` frames arrive evenly, each taking `costMs` of pipeline time when admitted. */
  const interval = (offered: number, loopDelay: number, costMs = 0.05): number => {
    let admitted = 0;
    for (let i = 0; i < offered; i++) {
      now += 100 / offered;
      if (s.admit('mqtt')) {
        admitted++;
        s.took(costMs);
      }
    }
    delay = loopDelay;
    s.tick();
    return admitted;
  };
  return { s, shed, interval };
}

t.test('a loop slowed by events sheds until it is quick again, counts what it sheds, and recovers', async (t) => {
  const h = harness();
  await h.s.start();
  t.teardown(() => h.s.stop());
  t.equal(h.interval(1000, 5), 1000, 'a quick loop takes everything');
  t.equal(h.interval(2000, 80), 2000, 'a slow interval is still taken whole');
  t.equal(h.interval(2000, 80), 2000, 'as is the next: a pause or a burst is not an overload');
  t.notOk(h.s.overloaded);
  t.equal(h.interval(2000, 80), 2000, 'the third in a row is');
  t.ok(h.s.overloaded, 'overloaded');
  const first = h.interval(5000, 80);
  t.ok(first >= 1590 && first <= 1610, `admitted ${first}: 80% of the 2,000 per interval taken before`);
  const second = h.interval(5000, 80);
  t.ok(second < first, `still slow: fewer (${second})`);
  const quick = h.interval(5000, 10);
  t.ok(quick < second, `the interval after a slow one takes less again (${quick})`);
  const quicker = h.interval(5000, 10);
  t.ok(quicker > quick && quicker <= Math.ceil(quick * 1.05) + 1, `quick again: 5% more (${quicker})`);
  t.equal(h.shed.length, 20000 - first - second - quick - quicker, 'every refusal counted');
  t.match(h.s.status(), { shedding: true, degraded: true, shed: h.shed.length });
  t.match(h.s.problem(), /overloaded: shedding QoS 0 and serial events/);
  for (let i = 0; i < 10; i++) h.interval(500, 5);
  t.notOk(h.s.overloaded, 'ten quick intervals with nothing shed end it');
  t.equal(h.s.problem(), undefined);
  t.equal(h.interval(3000, 5), 3000, 'all taken again');
});

t.test('a loop slow for another reason (start-up, a full GC, a browse) sheds nothing', async (t) => {
  const h = harness();
  for (let i = 0; i < 5; i++) t.equal(h.interval(100, 300, 0.01), 100);
  t.notOk(h.s.overloaded, 'few events on a slow loop are not an overload');
  t.same(h.shed, []);
});

t.test('never below a tenth of the best rate seen, so events keep flowing while reading alone slows the loop', async (t) => {
  const h = harness();
  h.interval(4000, 5);
  for (let i = 0; i < 30; i++) h.interval(20_000, 200, 0.02);
  const admitted = h.interval(20_000, 200, 0.02);
  t.ok(admitted >= 390, `admitted ${admitted} of 20,000 (the floor is 10% of 4,000 per interval)`);
});

t.test('disabled: start() arms nothing and everything is admitted', async (t) => {
  const s = new LoadShedder({ enabled: false, maxDelay: 40, interval: 100 }, { now: () => 0 }, () => undefined);
  await s.start();
  t.ok(s.admit('mqtt'));
  await s.stop();
});
