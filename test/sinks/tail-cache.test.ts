import t from 'tap';
import { TailCache } from '../../src/sinks/influx/buffer/tail-cache.js';

const lines = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `p${from + i}`);
/** Records of 10 bytes each on disk. */
const lengths = (n: number): number[] => Array.from({ length: n }, () => 10);

t.test('a reader that keeps up gets what was written, batch by batch, and commits drop it', async (t) => {
  const cache = new TailCache(1000);
  cache.wrote(1, 0, lines(0, 5), lengths(5));
  cache.wrote(1, 50, lines(5, 5), lengths(5));
  const a = cache.read({ segment: 1, offset: 0 }, 4);
  t.same(a, { lines: lines(0, 4), to: { segment: 1, offset: 40 } });
  t.same(cache.read({ segment: 1, offset: 0 }, 4), a, 'read again until committed');
  cache.committed({ segment: 1, offset: 40 });
  t.same(cache.read({ segment: 1, offset: 40 }, 100), { lines: lines(4, 6), to: { segment: 1, offset: 100 } });
  t.same(
    cache.read({ segment: 1, offset: 70 }, 2),
    { lines: lines(7, 2), to: { segment: 1, offset: 90 } },
    'any record boundary of the run',
  );
  t.equal(cache.read({ segment: 1, offset: 75 }, 2), undefined, 'not a boundary');
  t.equal(cache.read({ segment: 1, offset: 100 }, 2), undefined, 'nothing after the last write');
  cache.committed({ segment: 1, offset: 100 });
  cache.wrote(1, 100, lines(10, 1), lengths(1));
  t.same(cache.read({ segment: 1, offset: 100 }, 5)?.lines, ['p10'], 'an emptied run goes on where it ended');
});

t.test('a write the run does not reach, or one past the bound, starts a new run: a reader behind it reads the file', async (t) => {
  const cache = new TailCache(8);
  cache.wrote(1, 0, lines(0, 3), lengths(3));
  cache.wrote(2, 0, lines(3, 2), lengths(2));
  t.equal(cache.read({ segment: 1, offset: 0 }, 5), undefined, 'the old segment is gone from memory');
  t.same(cache.read({ segment: 2, offset: 0 }, 5)?.lines, ['p3', 'p4']);
  cache.wrote(2, 20, lines(5, 3), lengths(3));
  t.equal(cache.read({ segment: 2, offset: 0 }, 5), undefined, 'over 8 bytes of lines: only the newest run is kept');
  t.same(cache.read({ segment: 2, offset: 20 }, 5)?.lines, ['p5', 'p6', 'p7']);
  cache.committed({ segment: 3, offset: 0 });
  t.equal(cache.read({ segment: 2, offset: 20 }, 5), undefined, 'a cursor in a later segment empties it');
});

t.test('long runs are compacted as they are consumed, and stay readable', async (t) => {
  const cache = new TailCache(1e9);
  for (let i = 0; i < 5000; i++) cache.wrote(1, i * 10, [`p${i}`], [10]);
  for (let at = 0; at < 4000; at += 100) {
    const batch = cache.read({ segment: 1, offset: at * 10 }, 100)!;
    t.equal(batch.lines[0], `p${at}`);
    cache.committed(batch.to);
  }
  t.same(cache.read({ segment: 1, offset: 40_000 }, 3)?.lines, ['p4000', 'p4001', 'p4002']);
});
