// npm run bench:influx — points per second into a real InfluxDB 1.x (started by the bench).
//
// Baseline: the same lines POSTed straight to /write in batches, with no sink (what InfluxDB and
// the HTTP path allow on this machine). Then the sink, fed events through its stream, with the
// disk buffer on (fsync per batch) and off (memory queue), until InfluxDB confirmed every point.
// Then an outage: 1M points into the disk buffer while InfluxDB is down (append rate, RSS), and
// the drain of that backlog once InfluxDB is back (rate capped by maxPointsPerSecond).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { silentLogger } from '../core/logger.js';
import type { InferenceEvent } from '../normalise/inference-event.js';
import { InfluxSink, type InfluxSinkOptions } from '../sinks/influx/influx-sink.js';
import { LineWriter } from '../sinks/influx/line-writer.js';
import { inferenceLine } from '../sinks/influx/points.js';
import { median } from './bench-util.js';
import { startInfluxd, type InfluxServer } from './influxd.js';

const POINTS = Number(process.env.BENCH_POINTS ?? 300_000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BATCH = 5000;
const DEVICES = 100;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function event(i: number): InferenceEvent {
  return {
    device: `dev-${String(i % DEVICES).padStart(3, '0')}`,
    ts: T0 + Math.floor(i / DEVICES) * 10,
    seq: i,
    model: { name: 'motor-anomaly', version: '2.3.1' },
    label: 'normal',
    scores: { normal: 0.9, imbalance: 0.06, bearing_wear: 0.04 },
    anomaly: (i % 97) / 97,
    timing: { dsp_ms: 11.5, inference_ms: 3.2 },
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function baseline(influx: InfluxServer, database: string): Promise<number> {
  await influx.query('_internal', `CREATE DATABASE ${database}`);
  const lines = Array.from({ length: POINTS }, (_, i) => inferenceLine(event(i))!);
  const writer = new LineWriter({ url: influx.url, database, rejectUnauthorized: true, timeoutMs: 30_000 });
  const started = performance.now();
  for (let at = 0; at < lines.length; at += BATCH) await writer.write(lines.slice(at, at + BATCH));
  const seconds = (performance.now() - started) / 1000;
  writer.close();
  return POINTS / seconds;
}

function sinkFor(url: string, database: string, buffer: InfluxSinkOptions['buffer']) {
  const events = new Subject<InferenceEvent>();
  let written = 0;
  const options: InfluxSinkOptions = {
    url,
    database,
    rejectUnauthorized: true,
    timeoutMs: 30_000,
    createDatabase: true,
    batchSize: BATCH,
    flushIntervalMs: 100,
    maxPointsPerSecond: 10_000_000,
    retry: { initialMs: 100, maxMs: 1000 },
    buffer,
  };
  const counters = {
    written: (n: number) => (written += n),
    dropped: () => undefined,
    retried: () => undefined,
    writeSeconds: () => undefined,
  };
  const sink = new InfluxSink(options, { events$: events, alarms$: new Subject() }, counters, silentLogger());
  return { sink, events, written: () => written };
}

/** Feeds `count` events in slices (yielding so the sink's I/O runs) and waits until InfluxDB confirmed them all. */
async function sustained(url: string, database: string, buffer: InfluxSinkOptions['buffer'], count = POINTS): Promise<number> {
  const s = sinkFor(url, database, buffer);
  await s.sink.start();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    s.events.next(event(i));
    if (i % 1000 === 999) {
      await s.sink.durable();
      // An ingest source yields to the event loop between messages; the sink's I/O runs in between.
      await new Promise((r) => setImmediate(r));
      // Backpressure as ingest sees it: do not run further ahead of InfluxDB than a few batches.
      while (s.sink.pending() > 20 * BATCH) await sleep(1);
    }
  }
  while (s.written() < count) await sleep(2);
  const seconds = (performance.now() - started) / 1000;
  await s.sink.stop();
  return count / seconds;
}

async function outage(
  influx: InfluxServer,
  dir: string,
): Promise<{ appendRate: number; rssBefore: number; rssPeak: number; drainRate: number }> {
  await influx.halt();
  const buffer = {
    enabled: true as const,
    dir,
    maxBytes: 4 * 1024 ** 3,
    segmentBytes: 16 * 1024 ** 2,
    whenFull: 'drop-oldest' as const,
    fsync: 'batch' as const,
  };
  const s = sinkFor(influx.url, 'bench_drain', buffer);
  await s.sink.start();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  for (let i = 0; i < BACKLOG; i++) {
    s.events.next(event(i));
    if (i % 1000 === 999) await s.sink.durable();
  }
  await s.sink.durable();
  const appendRate = BACKLOG / ((performance.now() - started) / 1000);
  clearInterval(sampler);
  await influx.restart();
  const drainStart = performance.now();
  while (s.written() < BACKLOG) await sleep(5);
  const drainRate = BACKLOG / ((performance.now() - drainStart) / 1000);
  await s.sink.stop();
  return { appendRate, rssBefore, rssPeak, drainRate };
}

async function main(): Promise<void> {
  const influx = await startInfluxd();
  const dir = mkdtempSync(join(tmpdir(), 'bench-influx-'));
  try {
    const rows = { baseline: [] as number[], on: [] as number[], off: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      rows.baseline.push(await baseline(influx, `bench_base_${run}`));
      rows.on.push(
        await sustained(influx.url, `bench_on_${run}`, {
          enabled: true,
          dir: join(dir, `on-${run}`),
          maxBytes: 1024 ** 3,
          segmentBytes: 16 * 1024 ** 2,
          whenFull: 'drop-oldest',
          fsync: 'batch',
        }),
      );
      rows.off.push(await sustained(influx.url, `bench_off_${run}`, { enabled: false, maxPoints: 10_000_000 }));
      console.error(
        `run ${run + 1}/${RUNS}: baseline ${fmt(rows.baseline.at(-1)!)}, on ${fmt(rows.on.at(-1)!)}, off ${fmt(rows.off.at(-1)!)} points/s`,
      );
    }
    const base = median(rows.baseline);
    const out = await outage(influx, join(dir, 'outage'));
    const pct = (x: number): string => `${Math.round((100 * x) / base)}%`;
    console.log(`InfluxDB sink, ${fmt(POINTS)} points per run, median of ${RUNS} runs, batches of ${BATCH}, ${DEVICES} devices`);
    console.log('| stage | points/s | vs baseline |');
    console.log('| --- | --- | --- |');
    console.log(`| baseline: lines POSTed to /write, no sink | ${fmt(base)} | 100% |`);
    console.log(`| sink, disk buffer on (fsync per batch) | ${fmt(median(rows.on))} | ${pct(median(rows.on))} |`);
    console.log(`| sink, disk buffer off (memory) | ${fmt(median(rows.off))} | ${pct(median(rows.off))} |`);
    console.log(`| outage: ${fmt(BACKLOG)} points into the disk buffer | ${fmt(out.appendRate)} | ${pct(out.appendRate)} |`);
    console.log(`| drain of that backlog after InfluxDB is back | ${fmt(out.drainRate)} | ${pct(out.drainRate)} |`);
    console.log(
      `RSS during the outage: ${(out.rssBefore / 2 ** 20).toFixed(0)} MiB before, ${(out.rssPeak / 2 ** 20).toFixed(0)} MiB peak while buffering ${fmt(BACKLOG)} points`,
    );
  } finally {
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
