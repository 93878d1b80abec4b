import t from 'tap';
import { KeyedRateLimit } from '../../src/ingest/http/rate-limit.js';

t.test('token bucket per key: burst, refill, too large, forgetting idle keys', async (t) => {
  let now = 0;
  const limit = new KeyedRateLimit(2, 5, { now: () => now }, 2);
  t.same(limit.take('a', 5), { ok: true }, 'the burst at once');
  t.same(limit.take('a', 1), { ok: false, retryAfterSeconds: 1 });
  now += 1000;
  t.same(limit.take('a', 2), { ok: true }, 'two per second come back');
  t.same(limit.take('a', 1), { ok: false, retryAfterSeconds: 1 });
  now += 10_000;
  t.same(limit.take('a', 5), { ok: true }, 'refill stops at the burst');
  t.same(limit.take('a', 6), { ok: false, retryAfterSeconds: 3 }, 'more than the burst never fits at once');
  t.same(limit.take('b', 5), { ok: true }, 'keys are apart');
  limit.take('c', 5);
  t.same(limit.take('a', 5), { ok: true }, 'the least recently used key was forgotten (and starts full)');
});
