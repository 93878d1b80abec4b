import t from 'tap';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlarmEvent, AlarmTransition } from '../../src/core/alarm.js';
import { silentLogger } from '../../src/core/logger.js';
import { AlarmBook, AlarmCommandError } from '../../src/state/alarm-book.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/ports.js';

const clock = { now: () => 5_000 };
const transition = (state: 'raised' | 'cleared', extra: Partial<AlarmTransition> = {}): AlarmTransition => ({
  device: 'd1',
  rule: 'r',
  state,
  severity: 700,
  value: 0.9,
  ts: 1_000,
  message: state,
  ...extra,
});

function book(file?: string): { book: AlarmBook; events: AlarmEvent[] } {
  const b = new AlarmBook(clock, silentLogger(), file ? { file, writeDelayMs: 0 } : {});
  const events: AlarmEvent[] = [];
  b.events$.subscribe((e) => events.push(e));
  return { book: b, events };
}

t.test('an alarm stays until it is inactive, acknowledged and confirmed, in any order', async (t) => {
  const { book: b, events } = book();
  b.apply(transition('raised'));
  b.apply(transition('raised', { value: 0.95, message: 'worse' }));
  t.match(b.get('d1', 'r'), { active: true, acked: false, confirmed: false, value: 0.95, message: 'worse' }, 'a second raise refreshes');
  t.equal(events.length, 1, 'and is not a new event');
  t.throws(() => b.confirm('d1', 'r', 'op'), AlarmCommandError, 'confirm needs an acknowledgement first');
  b.acknowledge('d1', 'r', 'op', 'seen');
  t.throws(() => b.acknowledge('d1', 'r', 'op'), { name: 'AlarmCommandError', problem: 'already-acked' } as object as Error);
  b.confirm('d1', 'r', 'op');
  t.throws(() => b.confirm('d1', 'r', 'op'), { name: 'AlarmCommandError', problem: 'already-confirmed' } as object as Error);
  t.ok(b.get('d1', 'r'), 'still active: retained');
  b.apply(transition('cleared', { ts: 2_000 }));
  t.equal(b.get('d1', 'r'), undefined, 'cleared after acknowledge and confirm: gone');
  t.same(
    events.map((e) => [e.state, e.active, e.acked, e.confirmed]),
    [
      ['raised', true, false, false],
      ['acknowledged', true, true, false],
      ['confirmed', true, true, true],
      ['cleared', false, true, true],
    ],
  );
  b.apply(transition('cleared'));
  t.equal(events.length, 4, 'clearing an alarm that is not active does nothing');
  t.throws(() => b.acknowledge('d9', 'r', 'op'), { name: 'AlarmCommandError', problem: 'unknown' } as object as Error);
});

t.test('acknowledgeAll and reset', async (t) => {
  const { book: b } = book();
  b.apply(transition('raised'));
  b.apply(transition('raised', { rule: 'q' }));
  b.apply(transition('raised', { device: 'd2' }));
  t.equal(b.acknowledgeAll('d1', 'op').length, 2);
  t.equal(b.acknowledgeAll(undefined, 'op').length, 1, 'no device: all devices');
  const reset = b.reset((c) => c.device === 'd1', 'op', 'reset');
  t.same(
    reset.map((e) => e.state),
    ['cleared', 'confirmed', 'cleared', 'confirmed'],
  );
  t.same(b.list('d1'), []);
  t.equal(b.list().length, 1);
});

t.test('retained alarms are written and read back; a damaged file is set aside', async (t) => {
  const dir = tempDir(t, 'alarm-book-');
  const file = join(dir, 'alarms.json');
  const first = book(file).book;
  first.apply(transition('raised'));
  first.acknowledge('d1', 'r', 'op', 'seen');
  first.flush();
  const again = book(file).book;
  t.match(again.load(), [{ device: 'd1', rule: 'r', active: true, acked: true, comment: 'seen' }]);

  writeFileSync(file, '{"version":1,"alarms":[');
  const damaged = book(file).book;
  t.same(damaged.load(), []);
  t.notOk(existsSync(file));
  t.ok(
    readdirSync(dir).some((f) => f.startsWith('alarms.json.damaged-')),
    'kept aside for a look',
  );
  t.same(book(join(dir, 'none.json')).book.load(), [], 'no file: nothing retained');
});

t.test('changes are written in the background, in order; close() writes the newest state after any write in flight', async (t) => {
  const dir = tempDir(t, 'alarm-book-');
  const file = join(dir, 'alarms.json');
  const b = book(file).book;
  const kept = () => book(file).book.load();
  b.apply(transition('raised'));
  t.notOk(existsSync(file), 'nothing written on the event itself');
  await waitFor(() => existsSync(file) || undefined, 'the background write');
  t.match(kept(), [{ device: 'd1', active: true, acked: false }]);
  b.apply(transition('raised', { device: 'd2' }));
  b.acknowledge('d1', 'r', 'op');
  // The timer fires and its write starts; close() comes while it may still be in flight.
  await new Promise((r) => setImmediate(r));
  b.apply(transition('raised', { device: 'd3' }));
  await b.close();
  t.same(
    kept()
      .map((c) => `${c.device}:${String(c.acked)}`)
      .sort(),
    ['d1:true', 'd2:false', 'd3:false'],
    'the state at close, not an older one',
  );
  t.same(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary file left behind',
  );
});
