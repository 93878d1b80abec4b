import t from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { Deadlines, unarmed, type Timed } from '../../src/cep/operators/deadlines.js';

/** Runs `body` in virtual time and returns "key@time" for every entry that came due. */
function fired(body: (d: Deadlines<Timed>, at: (ms: number, f: () => void) => void) => void): string[] {
  const out: string[] = [];
  const scheduler = new TestScheduler(() => undefined);
  scheduler.run(() => {
    const d = new Deadlines<Timed>(scheduler, (e, now) => out.push(`${e.key}@${now}`));
    body(d, (ms, f) => scheduler.schedule(f, ms));
  });
  return out;
}

t.test('entries come due at their deadline, in (due, arming) order, however often they were re-armed', async (t) => {
  const a = unarmed('a');
  const b = unarmed('b');
  const c = unarmed('c');
  const out = fired((d, at) => {
    d.arm(a, 10);
    d.arm(b, 5);
    at(3, () => d.arm(a, 12)); // later: no new heap node, the old one re-queues a
    at(4, () => d.arm(c, 12));
    at(6, () => d.arm(b, 12)); // after b fired at 5: armed again
  });
  t.same(out, ['b@5', 'a@12', 'c@12', 'b@12']);
});

t.test('a deadline moved earlier fires at the earlier time, once', async (t) => {
  const a = unarmed('a');
  const out = fired((d, at) => {
    d.arm(a, 20);
    at(2, () => d.arm(a, 6));
  });
  t.same(out, ['a@6']);
});

t.test('disarmed entries never fire; an entry re-armed from its own callback fires again', async (t) => {
  const a = unarmed('a');
  const b = unarmed('b');
  let again = true;
  const out: string[] = [];
  const scheduler = new TestScheduler(() => undefined);
  scheduler.run(() => {
    const d = new Deadlines<Timed>(scheduler, (e, now) => {
      out.push(`${e.key}@${now}`);
      if (again) d.arm(e, now + 4);
      again = false;
    });
    d.arm(a, 3);
    d.arm(b, 2);
    d.disarm(b);
  });
  t.same(out, ['a@3', 'a@7']);
});

t.test('adopt re-arms entries of an earlier instance; dispose stops the wake-up', async (t) => {
  const a = unarmed('a');
  const out: string[] = [];
  const scheduler = new TestScheduler(() => undefined);
  scheduler.run(() => {
    const first = new Deadlines<Timed>(scheduler, (e) => out.push(`first ${e.key}`));
    first.arm(a, 5);
    first.dispose();
    const second = new Deadlines<Timed>(scheduler, (e, now) => out.push(`second ${e.key}@${now}`));
    second.adopt(a);
  });
  t.same(out, ['second a@5']);
});

t.test('passive: nothing is scheduled, peek gives the least recently armed entry', async (t) => {
  const scheduler = new TestScheduler(() => undefined);
  const d = new Deadlines<Timed>(scheduler, () => t.fail('passive deadlines never fire'), true);
  const [a, b, c] = ['a', 'b', 'c'].map(unarmed) as [Timed, Timed, Timed];
  t.equal(d.peek(), undefined);
  d.arm(a, 1);
  d.arm(b, 2);
  d.arm(c, 3);
  d.arm(a, 4); // a becomes the most recent
  t.equal(d.peek()?.key, 'b');
  d.disarm(b);
  t.equal(d.peek()?.key, 'c');
  scheduler.flush();
});
