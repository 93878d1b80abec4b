import t, { type Test } from 'tap';
import { createServer, type Socket } from 'node:net';
import type { Worker } from 'node:worker_threads';
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { InfluxDB } from 'influx';
import { InfluxSink, type InfluxSinkOptions, type SinkCounters } from '../../src/sinks/influx/influx-sink.js';
import { createLogger } from '../../src/core/logger.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import type { AlarmEvent } from '../../src/core/alarm.js';
import { encodeRecord } from '../../src/sinks/influx/buffer/record.js';
import { startInfluxd } from '../helpers/influxd.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';
import { heapAfterGc } from '../helpers/gc.js';

t.setTimeout(180_000);

const T0 = 1_700_000_000_000;

export function sinkOptions(url: string, dir: string, extra: Partial<InfluxSinkOptions> = {}): InfluxSinkOptions {
  return {
    url,
    database: 'sinktest',
    rejectUnauthorized: true,
    timeoutMs: 2000,
    createDatabase: true,
    batchSize: 100,
    flushIntervalMs: 50,
    maxPointsPerSecond: 1_000_000,
    retry: { initialMs: 50, maxMs: 300 },
    buffer: { enabled: true, dir, maxBytes: 64 * 1024 * 1024, segmentBytes: 1024 * 1024, whenFull: 'drop-oldest', fsync: 'batch' },
    ...extra,
  };
}

function harness(t: Test, url: string, extra: Partial<InfluxSinkOptions> = {}, dir = tempDir(t, 'sink-')) {
  const events = new Subject<InferenceEvent>();
  const alarms = new Subject<AlarmEvent>();
  const counts = { written: 0, dropped: {} as Record<string, number>, retries: 0 };
  const counters: SinkCounters = {
    written: (n) => (counts.written += n),
    dropped: (n, reason) => (counts.dropped[reason] = (counts.dropped[reason] ?? 0) + n),
    retried: () => counts.retries++,
    writeSeconds: () => undefined,
  };
  const logs: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
  const sink = new InfluxSink(sinkOptions(url, dir, extra), { events$: events, alarms$: alarms }, counters, log);
  const event = (seq: number, device = 'd1'): InferenceEvent => ({
    device,
    ts: T0 + seq,
    seq,
    model: { name: 'm', version: '1' },
    anomaly: 0.5,
  });
  return { sink, events, counts, event, logs, dir };
}

const seqs = async (influx: { query: (db: string, q: string) => Promise<Record<string, unknown>[]> }, db = 'sinktest') =>
  (await influx.query(db, 'SELECT seq FROM inference ORDER BY time ASC').catch(() => [])).map((r) => r.seq as number);

t.test('InfluxDB stopped and started again: every point arrives, in order, exactly once', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const h = harness(t, influx.url);
  await h.sink.start();
  t.teardown(() => h.sink.stop(0));
  const states = new Set<string>();
  const watch = setInterval(() => states.add(h.sink.status().state), 20);
  t.teardown(() => clearInterval(watch));
  let seq = 0;
  const burst = async (n: number): Promise<void> => {
    for (let end = seq + n; seq < end; ) {
      for (let i = 0; i < 20; i++) h.events.next(h.event(seq++));
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await burst(1000);
  await influx.halt();
  await burst(2000);
  await waitFor(() => h.sink.status().state === 'buffering', 'the sink to notice the outage');
  t.match(h.sink.problem(), /write failing/);
  await new Promise((r) => setTimeout(r, 500));
  await influx.restart();
  await burst(1000);
  await waitFor(() => h.sink.status().bufferedPoints === 0, 'the backlog to drain', 60_000, 100);
  const stored = await seqs(influx);
  t.equal(stored.length, 4000, 'every point');
  t.equal(new Set(stored).size, 4000, 'no duplicate');
  t.ok(
    stored.every((s, i) => s === i),
    'in order',
  );
  t.ok(states.has('buffering'), 'buffering seen');
  t.same(h.counts.dropped, {});
  t.ok(h.counts.retries > 0, 'retries counted');
  t.equal(h.sink.status().state, 'connected');
});

t.test('the same points sent twice are stored once; equal milliseconds stay distinct', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  for (let run = 0; run < 2; run++) {
    const h = harness(t, influx.url);
    await h.sink.start();
    // Two events of one device in the same millisecond, told apart by their sequence numbers.
    h.events.next({ ...h.event(1), ts: T0 });
    h.events.next({ ...h.event(2), ts: T0 });
    h.events.next({ ...h.event(3), ts: T0 + 5, seq: undefined, anomaly: 0.1 });
    h.events.next({ ...h.event(4), ts: T0 + 5, seq: undefined, anomaly: 0.2 });
    await waitFor(() => h.counts.written === 4 || undefined, 'the points written');
    await h.sink.stop();
  }
  const rows = await influx.query('sinktest', 'SELECT anomaly, seq FROM inference');
  t.equal(rows.length, 4, 'the second run overwrote the first: no duplicate');
});

t.test('a corrupted tail record in the buffer is skipped with a log line; the rest is sent', async (t) => {
  const deadUrl = `http://127.0.0.1:${await freePort()}`;
  const first = harness(t, deadUrl);
  await first.sink.start();
  for (let seq = 0; seq < 300; seq++) first.events.next(first.event(seq));
  await first.sink.durable();
  await first.sink.stop(0);
  t.equal(first.sink.status().bufferedPoints, 300, 'kept on disk while InfluxDB is away');
  const segment = readdirSync(first.dir)
    .filter((n) => n.endsWith('.wal'))
    .at(-1)!;
  appendFileSync(join(first.dir, segment), encodeRecord('inference,device=d1 seq=300 1').subarray(0, 11));

  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const second = harness(t, influx.url, {}, first.dir);
  await second.sink.start();
  t.teardown(() => second.sink.stop(0));
  t.match(
    second.logs.find((l) => String(l.msg).includes('torn or corrupt')),
    { level: 40, skippedBytes: 11, reason: 'partial' },
  );
  await waitFor(() => second.counts.written === 300 || undefined, 'the rest sent');
  t.same(
    await seqs(influx),
    Array.from({ length: 300 }, (_, i) => i),
  );
});

t.test('buffer full: drop-oldest and refuse-newest apply, are counted, and memory stays bounded', async (t) => {
  const deadUrl = `http://127.0.0.1:${await freePort()}`;
  const buffer = { enabled: true as const, maxBytes: 1024 * 1024, segmentBytes: 128 * 1024, fsync: 'batch' as const };
  for (const whenFull of ['drop-oldest', 'refuse-newest'] as const) {
    const dir = tempDir(t, 'quota-');
    const h = harness(t, deadUrl, { buffer: { ...buffer, dir, whenFull } }, dir);
    await h.sink.start();
    t.teardown(() => h.sink.stop(0));
    let heapEarly = 0;
    // A refused point is never promised durable: MQTT sends no PUBACK for it, the MCU sends it again.
    let unacknowledged = 0;
    const settled = () => h.sink.durable().catch(() => void unacknowledged++);
    for (let seq = 0; seq < 200_000; seq++) {
      h.events.next(h.event(seq, `d${seq % 50}`));
      if (seq % 5000 === 0) await settled();
      if (seq === 50_000) heapEarly = heapAfterGc();
    }
    await settled();
    const grown = heapAfterGc() - heapEarly;
    const s = h.sink.status();
    t.ok(s.bufferedBytes <= 1024 * 1024, `${whenFull}: ${s.bufferedBytes} bytes buffered`);
    const reason = whenFull === 'drop-oldest' ? 'buffer_full_drop_oldest' : 'buffer_full_refuse_newest';
    t.equal((h.counts.dropped[reason] ?? 0) + s.bufferedPoints, 200_000, `${whenFull}: every point is buffered or counted`);
    t.equal(h.logs.filter((l) => String(l.msg).startsWith('InfluxDB buffer full')).length, 1, `${whenFull}: logged once`);
    t.equal(h.sink.hasRoom(), whenFull === 'drop-oldest');
    t.ok(grown < 4 * 1024 * 1024, `${whenFull}: heap grew ${(grown / 1e6).toFixed(2)} MB over the last 150k points`);
    if (whenFull === 'refuse-newest') t.ok(unacknowledged > 0, `refuse-newest: ${unacknowledged} durable() calls refused`);
    else t.equal(unacknowledged, 0, 'drop-oldest: every durable() resolves');
  }
});

t.test('a batch InfluxDB rejects is dropped and counted; later points still flow', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const direct = new InfluxDB({ host: '127.0.0.1', port: influx.port, database: 'sinktest' });
  await direct.createDatabase('sinktest');
  // `anomaly` becomes a string field in this shard: our float anomaly conflicts with it (HTTP 400).
  await direct.writePoints([{ measurement: 'inference', tags: { device: 'd1' }, fields: { anomaly: 'text' }, timestamp: new Date(T0) }]);
  const h = harness(t, influx.url);
  await h.sink.start();
  t.teardown(() => h.sink.stop(0));
  h.events.next(h.event(1));
  await waitFor(() => h.counts.dropped.rejected_400, 'the conflicting batch to be rejected');
  t.equal(h.sink.pending(), 0, 'the rejected batch does not block the queue');
  t.equal(h.sink.problem(), undefined, 'a rejected batch is not an outage');
  h.events.next({ ...h.event(2), device: 'd2', anomaly: undefined, label: 'ok' });
  await waitFor(() => h.counts.written === 1 || undefined, 'the next point written');
});

t.test('stop() keeps its deadline when InfluxDB accepts connections but never answers', async (t) => {
  const sockets: Socket[] = [];
  const blackhole = createServer((s) => sockets.push(s));
  const port = await freePort();
  await new Promise<void>((r) => blackhole.listen(port, '127.0.0.1', r));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    blackhole.close();
  });
  for (const buffered of [true, false]) {
    const dir = tempDir(t, 'stop-');
    const buffer = buffered ? sinkOptions('', dir).buffer : { enabled: false as const, maxPoints: 1000 };
    // A start that waited for this InfluxDB would take the whole 30 s request timeout.
    const h = harness(t, `http://127.0.0.1:${port}`, { buffer, timeoutMs: 30_000 }, dir);
    const started = Date.now();
    await h.sink.start();
    const took = Date.now() - started;
    t.ok(took < 5000, `start took ${took} ms: it does not wait for InfluxDB`);
    h.events.next(h.event(1));
    await new Promise((r) => setTimeout(r, 100));
    const stopping = Date.now();
    await h.sink.stop(1000);
    const stopTook = Date.now() - stopping;
    t.ok(stopTook < 2500, `stop took ${stopTook} ms`);
    if (buffered)
      t.match(
        h.logs.find((l) => l.msg === 'points stay in the disk buffer for the next start'),
        { points: 1 },
      );
    else t.same(h.counts.dropped, { shutdown: 1 }, 'without the disk buffer, what is left is counted');
  }
});

t.test('a sink begun and never started (the gateway failed first) stops at once, its worker gone', async (t) => {
  const h = harness(t, 'http://127.0.0.1:9');
  h.sink.begin();
  const exits: number[] = [];
  const worker = (h.sink as unknown as { worker: Worker }).worker;
  worker.once('exit', (code) => exits.push(code));
  await h.sink.stop(1000);
  t.equal(exits.length, 1, 'the worker exited');
  t.equal(h.sink.problem(), undefined, 'a stop asked for is not a failure');
  h.events.next(h.event(1));
  t.equal(h.sink.pending(), 0, 'and it takes nothing');
});
