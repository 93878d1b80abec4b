import t from 'tap';
import { MinuteRate } from '../../src/state/minute-rate.js';

t.test('counts arrivals over the last 60 complete seconds', async (t) => {
  const rate = new MinuteRate(0);
  t.equal(rate.perMinute(0), 0, 'nothing yet');
  rate.add(100);
  rate.add(900);
  t.equal(rate.perMinute(999), 0, 'the current second is not counted yet');
  t.equal(rate.perMinute(1000), 2, 'it is once complete');
  t.equal(rate.perMinute(60_999), 2, 'still inside the minute');
  t.equal(rate.perMinute(61_000), 0, 'a minute later it has left');
});

t.test('a steady source reads steady: one change per change of rate, not one per read', async (t) => {
  const rate = new MinuteRate(0);
  const reads = new Set<number>();
  // One arrival a second, read after every arrival and in between, for five minutes.
  for (let ms = 250; ms < 300_000; ms += 1000) {
    rate.add(ms);
    if (ms > 61_000) reads.add(rate.perMinute(ms));
    if (ms > 61_000) reads.add(rate.perMinute(ms + 500));
  }
  t.same([...reads], [60]);
  // Twice the rate: it climbs to 120 within a minute and stays.
  for (let ms = 300_250; ms < 420_000; ms += 500) rate.add(ms);
  t.equal(rate.perMinute(420_000), 120);
});

t.test('gaps: seconds without arrivals count zero; a gap longer than the minute empties it', async (t) => {
  const rate = new MinuteRate(5_000);
  for (let s = 5; s < 35; s++) rate.add(s * 1000);
  t.equal(rate.perMinute(35_000), 30);
  t.equal(rate.perMinute(80_000), 15, 'the first 15 seconds have left the minute');
  t.equal(rate.perMinute(1_000_000), 0, 'long silence');
  rate.add(1_000_500);
  t.equal(rate.perMinute(1_001_000), 1, 'and it counts again from there');
  t.equal(rate.perMinute(999_000), 1, 'a clock that steps back changes nothing');
});
