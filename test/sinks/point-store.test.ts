import t, { type Test } from 'tap';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/core/logger.js';
import { MemoryQueue } from '../../src/sinks/influx/buffer/memory-queue.js';
import type { PointStore, StoreEvents } from '../../src/sinks/influx/buffer/point-store.js';
import { encodeRecord, scanRecords } from '../../src/sinks/influx/buffer/record.js';
import { WriteAheadLog, type WalOptions } from '../../src/sinks/influx/buffer/write-ahead-log.js';
import { tempDir } from '../helpers/temp-dir.js';

function recorder() {
  const seen = { dropped: {} as Record<string, number>, episodes: [] as string[], readable: 0 };
  const events: StoreEvents = {
    dropped: (n, reason) => (seen.dropped[reason] = (seen.dropped[reason] ?? 0) + n),
    full: (episode, dropped) => seen.episodes.push(`${episode}:${dropped}`),
    readable: () => seen.readable++,
  };
  return { seen, events };
}

function logLines() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { lines, log };
}

const line = (i: number): string => `inference,device=d1 seq=${i} 1700000000000${String(i).padStart(6, '0')}`;

async function drain(store: PointStore, max = 7): Promise<string[]> {
  const out: string[] = [];
  for (let b = await store.read(max); b; b = await store.read(max)) {
    out.push(...b.lines);
    store.commit(b);
  }
  return out;
}

function wal(t: Test, extra: Partial<WalOptions> = {}, dir = tempDir(t, 'wal-')) {
  const { seen, events } = recorder();
  const { lines, log } = logLines();
  const options: WalOptions = { dir, segmentBytes: 4096, maxBytes: 64 * 1024, whenFull: 'drop-oldest', fsync: 'batch', ...extra };
  const store = new WriteAheadLog(options, events, log);
  t.teardown(() => store.close());
  return { store, seen, lines, dir, options };
}

t.test('records: a torn or corrupt record stops the scan', async (t) => {
  const two = Buffer.concat([encodeRecord('a b=1 1'), encodeRecord('é b=2 2')]);
  t.same(scanRecords(two).lines, ['a b=1 1', 'é b=2 2']);
  const torn = scanRecords(two.subarray(0, two.length - 3));
  t.same([torn.lines, torn.stop, torn.consumed], [['a b=1 1'], 'partial', encodeRecord('a b=1 1').length]);
  const flipped = Buffer.from(two);
  flipped[flipped.length - 1]! ^= 0xff;
  t.same([scanRecords(flipped).count, scanRecords(flipped).stop], [1, 'corrupt']);
  t.equal(scanRecords(two, 1).count, 1, 'max limits the records taken');
});

for (const kind of ['disk', 'memory'] as const) {
  t.test(`${kind} store: points come out in order and leave once committed`, async (t) => {
    const store: PointStore = kind === 'disk' ? wal(t).store : new MemoryQueue(10_000, recorder().events);
    await store.open();
    let taken = 0;
    for (let i = 0; i < 100; i++) if (store.append(line(i))) taken++;
    t.equal(taken, 100);
    await store.durable();
    t.equal(store.depth().points, 100);
    const first = await store.read(10);
    t.same(first?.lines, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(line));
    t.same((await store.read(10))?.lines, first?.lines, 'uncommitted points are read again');
    store.commit(first!);
    store.commit(first!);
    t.equal(store.depth().points, 90, 'a batch committed twice counts once');
    t.same(
      await drain(store),
      Array.from({ length: 90 }, (_, i) => line(i + 10)),
    );
    t.equal(store.depth().points, 0);
    t.equal(await store.read(10), undefined);
  });
}

t.test('a reader that keeps up is served from memory: the log is written, not read back', async (t) => {
  const a = wal(t);
  await a.store.open();
  for (let i = 0; i < 40; i++) a.store.append(line(i));
  await a.store.durable();
  // 0xff in place of the records: a read of the file would now find an impossible length.
  for (const name of readdirSync(a.dir).filter((n) => n.endsWith('.wal'))) {
    const file = join(a.dir, name);
    writeFileSync(file, Buffer.alloc(statSync(file).size, 0xff));
  }
  t.same(
    await drain(a.store),
    Array.from({ length: 40 }, (_, i) => line(i)),
  );
});

t.test('the disk buffer keeps unsent points across a restart and deletes sent segments', async (t) => {
  const a = wal(t);
  await a.store.open();
  for (let i = 0; i < 500; i++) a.store.append(line(i));
  await a.store.durable();
  const segments = readdirSync(a.dir).filter((n) => n.endsWith('.wal')).length;
  t.ok(segments > 5, `${segments} segments of 4 KiB`);
  const sent: string[] = [];
  while (sent.length < 200) {
    const b = (await a.store.read(Math.min(10, 200 - sent.length)))!;
    sent.push(...b.lines);
    a.store.commit(b);
  }
  t.same(
    sent,
    Array.from({ length: 200 }, (_, i) => line(i)),
  );
  t.ok(readdirSync(a.dir).filter((n) => n.endsWith('.wal')).length < segments, 'sent segments are deleted');
  await a.store.close();

  const b = wal(t, {}, a.dir);
  await b.store.open();
  t.equal(b.store.depth().points, 300);
  t.match(
    b.lines.find((l) => l.msg === 'buffered points from the previous run will be sent'),
    { points: 300 },
  );
  t.same(
    await drain(b.store),
    Array.from({ length: 300 }, (_, i) => line(i + 200)),
    'exactly the unsent points, in order',
  );
  b.store.append(line(999));
  await b.store.durable();
  t.same(await drain(b.store), [line(999)]);
});

t.test('a lost cursor means sending again from the oldest point, never skipping one', async (t) => {
  const a = wal(t);
  await a.store.open();
  for (let i = 0; i < 20; i++) a.store.append(line(i));
  await a.store.durable();
  a.store.commit((await a.store.read(5))!);
  await a.store.close();
  writeFileSync(join(a.dir, 'cursor.json'), '{"segment": 1, "offset": 3}');
  const b = wal(t, {}, a.dir);
  await b.store.open();
  t.same((await b.store.read(100))?.lines.length, 20, 'an offset off a record boundary is not trusted');
});

/** A log of `points` points, closed; `file` is its last segment. */
async function closedLog(t: Test, points: number) {
  const a = wal(t, { segmentBytes: 1024 * 1024 });
  await a.store.open();
  for (let i = 0; i < points; i++) a.store.append(line(i));
  await a.store.close();
  const last = readdirSync(a.dir)
    .filter((n) => n.endsWith('.wal'))
    .at(-1)!;
  return { a, file: join(a.dir, last) };
}

t.test('a torn tail record is skipped with a log line and the rest is kept', async (t) => {
  const { a, file } = await closedLog(t, 50);
  const whole = statSync(file).size;
  appendFileSync(file, encodeRecord(line(50)).subarray(0, 20));

  const b = wal(t, {}, a.dir);
  await b.store.open();
  const warned = b.lines.find((l) => String(l.msg).includes('torn or corrupt'));
  t.match(warned, { level: 40, reason: 'partial', skippedBytes: 20, keptRecords: 50 });
  t.equal(statSync(file).size, whole, 'the torn bytes are cut off so appends continue cleanly');
  t.same(
    await drain(b.store, 100),
    Array.from({ length: 50 }, (_, i) => line(i)),
  );
});

t.test('a record with a wrong checksum ends its segment there', async (t) => {
  const { a, file } = await closedLog(t, 10);
  const bytes = readFileSync(file);
  bytes[bytes.length - 5]! ^= 0x01;
  writeFileSync(file, bytes);
  const b = wal(t, {}, a.dir);
  await b.store.open();
  t.match(
    b.lines.find((l) => String(l.msg).includes('torn or corrupt')),
    { reason: 'corrupt', keptRecords: 9 },
  );
  t.same(
    await drain(b.store, 100),
    Array.from({ length: 9 }, (_, i) => line(i)),
  );
});

t.test('full with drop-oldest: whole old segments go, counted, one episode logged', async (t) => {
  const a = wal(t, { segmentBytes: 4096, maxBytes: 16 * 1024 });
  await a.store.open();
  for (let i = 0; i < 2000; i++) {
    a.store.append(line(i));
    if (i % 100 === 0) await a.store.durable();
  }
  await a.store.durable();
  const onDisk = readdirSync(a.dir)
    .filter((n) => n.endsWith('.wal'))
    .reduce((sum, n) => sum + statSync(join(a.dir, n)).size, 0);
  t.ok(onDisk <= 16 * 1024 + 4096, `${onDisk} bytes on disk`);
  const depth = a.store.depth().points;
  t.equal(a.seen.dropped['drop-oldest'], 2000 - depth, 'every point not kept is counted');
  t.same(a.seen.episodes, ['start:0'], 'one episode start, however many drops');
  const kept = await drain(a.store, 1000);
  t.same(
    kept,
    Array.from({ length: depth }, (_, i) => line(2000 - depth + i)),
    'the newest points are kept, in order',
  );
  t.same(a.seen.episodes, ['start:0', `end:${2000 - depth}`]);
});

t.test('full with refuse-newest: the backlog stays, new points are refused and counted', async (t) => {
  const a = wal(t, { segmentBytes: 4096, maxBytes: 16 * 1024, whenFull: 'refuse-newest' });
  await a.store.open();
  let accepted = 0;
  for (let i = 0; i < 2000; i++) if (a.store.append(line(i))) accepted++;
  await a.store.durable();
  t.ok(accepted < 2000);
  t.equal(a.seen.dropped['refuse-newest'], 2000 - accepted);
  t.notOk(a.store.hasRoom());
  t.same(
    await drain(a.store, 1000),
    Array.from({ length: accepted }, (_, i) => line(i)),
    'the oldest points are kept',
  );
  t.ok(a.store.hasRoom());
  t.same(a.seen.episodes, ['start:0', `end:${2000 - accepted}`]);
});

t.test('fsync every N ms: durable() waits for the timer', async (t) => {
  const a = wal(t, { fsync: 200 });
  await a.store.open();
  a.store.append(line(1));
  const started = Date.now();
  await a.store.durable();
  const took = Date.now() - started;
  t.ok(took >= 100 && took < 2000, `durable after ${took} ms`);
  t.equal((await a.store.read(10))?.lines.length, 1);
});

t.test('memory queue beyond maxPoints drops the oldest', async (t) => {
  const { seen, events } = recorder();
  const q = new MemoryQueue(5, events);
  for (let i = 0; i < 8; i++) q.append(line(i));
  t.same(seen.dropped, { 'drop-oldest': 3 });
  t.same(await drain(q), [3, 4, 5, 6, 7].map(line));
  t.same(seen.episodes, ['start:0', 'end:3']);
});
