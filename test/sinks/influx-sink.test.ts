import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { Subject } from 'rxjs';
import { InfluxDB } from 'influx';
import { InfluxSink, type SinkCounters } from '../../src/sinks/influx/influx-sink.js';
import { silentLogger } from '../../src/core/logger.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import type { AlarmEvent } from '../../src/core/alarm.js';
import { startInfluxd } from '../helpers/influxd.js';
import { freePort, waitFor } from '../helpers/ports.js';

t.setTimeout(120_000);

function harness(url: string, extra: Partial<ConstructorParameters<typeof InfluxSink>[0]> = {}) {
  const events = new Subject<InferenceEvent>();
  const alarms = new Subject<AlarmEvent>();
  const counts = { written: 0, dropped: {} as Record<string, number>, errors: 0, buffered: 0 };
  const counters: SinkCounters = {
    written: (n) => (counts.written += n),
    dropped: (n, reason) => (counts.dropped[reason] = (counts.dropped[reason] ?? 0) + n),
    writeError: () => counts.errors++,
    buffered: (n) => (counts.buffered = n),
  };
  const sink = new InfluxSink(
    { url, database: 'sinktest', batchSize: 100, flushIntervalMs: 50, maxBufferedPoints: 1000, ...extra },
    { events$: events, alarms$: alarms },
    counters,
    silentLogger(),
  );
  const event = (seq: number): InferenceEvent => ({
    device: 'd1',
    ts: 1_700_000_000_000 + seq,
    seq,
    model: { name: 'm', version: '1' },
    anomaly: 0.5,
  });
  return { sink, events, counts, event };
}

t.test('a batch InfluxDB rejects is dropped and counted; later points still flow', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const direct = new InfluxDB({ host: '127.0.0.1', port: influx.port, database: 'sinktest' });
  await direct.createDatabase('sinktest');
  // `anomaly` becomes a string field in this shard: our float anomaly conflicts with it (HTTP 400).
  await direct.writePoints([
    { measurement: 'inference', tags: { device: 'd1' }, fields: { anomaly: 'text' }, timestamp: new Date(1_700_000_000_000) },
  ]);

  const h = harness(influx.url);
  await h.sink.start();
  t.teardown(() => h.sink.stop());
  h.events.next(h.event(1));
  await waitFor(() => h.counts.dropped.rejected_400, 'the conflicting batch to be rejected');
  t.equal(h.sink.pending(), 0, 'the rejected batch does not block the queue');
  t.equal(h.sink.problem(), undefined, 'a rejected batch is not an outage');

  const other = { ...h.event(2), device: 'd2', anomaly: undefined, label: 'ok' };
  h.events.next(other);
  await waitFor(() => h.counts.written === 1 || undefined, 'the next point written');
});

t.test('overflow drops the oldest waiting points and counts them', async (t) => {
  const h = harness(`http://127.0.0.1:${await freePort()}`, { maxBufferedPoints: 5, batchSize: 1000, flushIntervalMs: 60_000 });
  await h.sink.start();
  for (let seq = 1; seq <= 8; seq++) h.events.next(h.event(seq));
  t.equal(h.sink.pending(), 5);
  t.same(h.counts.dropped, { buffer_full: 3 });
  await h.sink.stop(200);
  t.same(h.counts.dropped, { buffer_full: 3, shutdown: 5 }, 'what could not be written by the deadline is counted');
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
  const h = harness(`http://127.0.0.1:${port}`);
  const started = Date.now();
  await h.sink.start();
  t.ok(Date.now() - started < 200, 'start does not wait for InfluxDB');
  h.events.next(h.event(1));
  await new Promise((r) => setTimeout(r, 100));
  const stopping = Date.now();
  await h.sink.stop(1000);
  const took = Date.now() - stopping;
  t.ok(took < 1500, `stop took ${took} ms`);
  t.same(h.counts.dropped, { shutdown: 1 });
});
