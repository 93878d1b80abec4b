import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Subject } from 'rxjs';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { rule } from '../../src/cep/rules/builder.js';
import { systemClock } from '../../src/core/clock.js';
import { RuleCheckpoints } from '../../src/daemon/rule-checkpoints.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { AlarmBook } from '../../src/state/alarm-book.js';
import { SNAPSHOT_FILE } from '../../src/state/rule-snapshot.js';

/** A logger whose lines the test reads. */
function capturing(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const persist = (atLeast: number) => rule('p').persistence({ atLeast, n: 2, m: 3, clearAfter: 2 }).alarm({ severity: 500 }).build();
const event = (device: string, anomaly: number): InferenceEvent => ({ device, ts: 1, model: { name: 'm', version: '1' }, anomaly });

t.test('restore at start: the rule continues, alarms it no longer knows are reset, a bad snapshot is refused and logged', async (t) => {
  const dataDir = t.testdir();
  const settings = { enabled: true, interval: 60_000, dataDir, gateway: 'gw' };
  const { log, lines } = capturing();
  const book = new AlarmBook(systemClock, log);

  // The first run: d1 raised and in the snapshot.
  const first = new RuleEngine([persist(0.7)]);
  const input = new Subject<InferenceEvent>();
  first.connect(input).subscribe((o) => o.type === 'alarm' && book.apply(o.alarm));
  input.next(event('d1', 0.9));
  input.next(event('d1', 0.9));
  const written: number[] = [];
  await new RuleCheckpoints(settings, first, book, systemClock, log, {
    written: (_ms, bytes) => written.push(bytes),
    failed: () => undefined,
  }).write();
  t.equal(written.length, 1, 'a snapshot written and told');
  // After the snapshot, before the kill: d2 raised, which the snapshot does not hold.
  input.next(event('d2', 0.9));
  input.next(event('d2', 0.9));
  t.same(
    book
      .list()
      .filter((c) => c.active)
      .map((c) => c.device),
    ['d1', 'd2'],
  );

  const second = new RuleEngine([persist(0.7)]);
  await new RuleCheckpoints(settings, second, book, systemClock, log).restore();
  t.same(second.raisedBy('p'), ['d1']);
  t.same(
    book
      .list()
      .filter((c) => c.active)
      .map((c) => c.device),
    ['d1'],
    'd2 reset: the restored rule would never clear it',
  );
  t.match(
    book.list().find((c) => c.device === 'd2'),
    { active: false, message: /raised after the last rule-state snapshot/ },
  );
  t.ok(lines.some((l) => l.msg === 'rule state restored for 1 rules'));

  const changed = new RuleEngine([persist(0.5)]);
  await new RuleCheckpoints(settings, changed, book, systemClock, log).restore();
  t.ok(lines.some((l) => l.msg === 'rule p changed since the snapshot: it starts clean'));
  t.match(
    book.list().find((c) => c.device === 'd1'),
    { active: false, message: /changed since the last snapshot/ },
  );

  writeFileSync(join(dataDir, SNAPSHOT_FILE), 'TMLGRU');
  await new RuleCheckpoints(settings, new RuleEngine([persist(0.7)]), book, systemClock, log).restore();
  t.match(
    lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('rule-state snapshot refused')),
    { level: 40, reason: /^torn: 6 bytes/ },
    'a torn snapshot is refused with its reason, at warn',
  );
});

t.test('stop writes the state the rules ended with; off, nothing is written', async (t) => {
  const dataDir = t.testdir();
  const { log } = capturing();
  const book = new AlarmBook(systemClock, log);
  const engine = new RuleEngine([persist(0.7)]);
  const input = new Subject<InferenceEvent>();
  engine.connect(input).subscribe(() => undefined);
  const part = new RuleCheckpoints({ enabled: true, interval: 60_000, dataDir, gateway: 'gw' }, engine, book, systemClock, log);
  await part.start();
  input.next(event('d1', 0.9));
  await part.stop();
  t.match(part.status(), { lastBytes: Number, failures: 0 });
  const next = new RuleEngine([persist(0.7)]);
  await new RuleCheckpoints({ enabled: true, interval: 60_000, dataDir, gateway: 'gw' }, next, book, systemClock, log).restore();
  t.match(next.status(), [{ id: 'p', keys: 1, eventsIn: 1 }]);

  const off = t.testdir();
  const disabled = new RuleCheckpoints({ enabled: false, interval: 60_000, dataDir: off, gateway: 'gw' }, engine, book, systemClock, log);
  await disabled.start();
  await disabled.stop();
  t.same((await import('node:fs')).readdirSync(off), []);
});
