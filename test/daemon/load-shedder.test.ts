import t, { type Test } from 'tap';
import { LoadShedder, loopSampler } from '../../src/daemon/load-shedder.js';

/** A started shedder on a hand-moved clock whose event loop is as slow and as busy as the test says. */
async function harness(t: Test, maxDelay = 40) {
  let now = 0;
  let delay = 0;
  let utilization = 1;
  const shed: string[] = [];
  const s = new LoadShedder(
    { enabled: true, maxDelay, interval: 100 },
    { now: () => now },
    (source) => shed.push(source),
    () => () => ({ delayMs: delay, utilization }),
  );
  await s.start();
  t.teardown(() => s.stop());
  /** One 100 ms interval: `offered` frames arrive evenly, each taking `costMs` of pipeline time when admitted. */
  const interval = (offered: number, loopDelay: number, costMs = 0.05, busy = 1): number => {
    let admitted = 0;
    for (let i = 0; i < offered; i++) {
      now += 100 / offered;
      if (s.admit('mqtt')) {
        admitted++;
        s.took(costMs);
      }
    }
    delay = loopDelay;
    utilization = busy;
    s.tick();
    return admitted;
  };
  return { s, shed, interval };
}

t.test('a loop slowed by events sheds until it is quick again, counts what it sheds, and recovers', async (t) => {
  const h = await harness(t);
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
  const h = await harness(t);
  for (let i = 0; i < 5; i++) t.equal(h.interval(100, 300, 0.01), 100);
  t.notOk(h.s.overloaded, 'few events on a slow loop are not an overload');
  t.same(h.shed, []);
});

t.test('a loop that is late but still waits for input (the machine held it up, not the events) sheds nothing', async (t) => {
  const h = await harness(t);
  for (let i = 0; i < 5; i++) t.equal(h.interval(2000, 80, 0.05, 0.7), 2000);
  t.notOk(h.s.overloaded, 'late, busy with events, but idle 30% of the time: not behind');
  t.equal(h.interval(2000, 80, 0.05, 0.95), 2000, 'busy all the time: the first slow interval');
  t.equal(h.interval(2000, 80, 0.05, 0.95), 2000);
  t.equal(h.interval(2000, 80, 0.05, 0.95), 2000, 'the third in a row');
  t.ok(h.s.overloaded, 'is an overload');
  t.same(h.shed, []);
});

t.test('the loop sampler reads node: no delay and a utilization between 0 and 1 on an idle loop', async (t) => {
  const read = loopSampler();
  await new Promise((r) => setTimeout(r, 60));
  const idle = read();
  t.ok(idle.delayMs < 20, `delay ${idle.delayMs} ms`);
  t.ok(idle.utilization >= 0 && idle.utilization < 0.5, `utilization ${idle.utilization}`);
  const end = Date.now() + 60;
  while (Date.now() < end) {
    // a busy loop: nothing else runs
  }
  await new Promise((r) => setImmediate(r));
  t.ok(read().utilization > 0.8, 'a loop kept busy reads as busy');
});

t.test('a loop whose every turn takes longer than the interval between reads reads as that late', async (t) => {
  const read = loopSampler();
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(read().delayMs), 100);
  t.teardown(() => clearInterval(timer));
  await new Promise((r) => setTimeout(r, 250));
  read();
  samples.length = 0;
  // Turns of 250 ms, as when whole socket buffers of events are read in each.
  await new Promise<void>((resolve) => {
    let turns = 0;
    const turn = (): void => {
      const end = Date.now() + 250;
      while (Date.now() < end) {
        // one long turn
      }
      if (++turns < 8) setImmediate(turn);
      else resolve();
    };
    setImmediate(turn);
  });
  t.ok(samples.length >= 4, `${samples.length} reads during the slow turns`);
  t.ok(
    samples.slice(1).every((d) => d >= 100),
    `every read after the first is at least 100 ms late: ${samples.map((d) => Math.round(d)).join(', ')}`,
  );
});

t.test('never below a tenth of the best rate seen, so events keep flowing while reading alone slows the loop', async (t) => {
  const h = await harness(t);
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
