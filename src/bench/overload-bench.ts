// npm run bench:overload — the gateway past what it can take, and back.
//
// A real gateway process (embedded broker, OPC UA and Modbus servers, one 3-of-5 persistence rule
// over 1,000 devices, InfluxDB when influxd is installed) fed by a paced QoS 0 publisher in a
// worker thread. First the sustainable rate S is found by stepping the rate; S held for a while
// is the baseline, measured in the same run. Then 5× and 10× S for a minute each, with a QoS 1
// publisher flooding beside it, then S/2 for recovery. Throughout: /health latency every 100 ms,
// RSS every 500 ms, and the gateway's own counters: what was taken, what was shed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connectAsync, type MqttClient } from 'mqtt';
import { freePort, median, percentile } from './bench-util.js';
import { GatewayProcess, metricSum } from './gateway-process.js';
import { runFlood, type FloodResult } from './mqtt-flood.js';
import { startInfluxd, type InfluxServer } from './influxd.js';

const DEVICES = 1000;
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 10);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 30);
const OVERLOAD_SECONDS = Number(process.env.BENCH_OVERLOAD_SECONDS ?? 60);
const RECOVERY_SECONDS = Number(process.env.BENCH_RECOVERY_SECONDS ?? 20);
const STEPS = (process.env.BENCH_STEPS ?? '4000,5000,6000,7000,8000,9000,10000,12000,14000,16000,20000').split(',').map(Number);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const WITH_INFLUX = process.env.BENCH_INFLUX !== '0' && spawnSync('sh', ['-c', 'command -v influxd']).status === 0;

/** What is sampled from outside while a phase runs. */
interface Samples {
  health: number[];
  healthStatus: Record<number, number>;
  /** ms into the phase after which every /health answer was 200; NaN if the last was not. */
  healthyFromMs: number;
  /** Parts named as not ok by the non-200 answers. */
  notOk: string[];
  rss: number[];
  /** V8 heap in use, MB, sampled from /metrics every 2 s. */
  heap: number[];
  /** ms the reference server took to answer, probed right after each /health. */
  reference: number[];
  /** The slowest /health answer and when in the phase (s) it was asked. */
  worst: { ms: number; atS: number };
}

interface Phase extends Samples {
  name: string;
  target: number;
  flood: FloodResult;
  accepted: number;
  shed: number;
  received: number;
  cpu: number;
  /** Full (mark-compact) collections in the gateway during the phase: how many, and their total seconds. */
  majorGc: { count: number; seconds: number };
  /** The gateway's worst event-loop delay during the phase (prom-client's monitor, reset at each scrape), ms. */
  lagMaxMs: number;
  qos1?: { acked: number; seconds: number };
  /** ms from SIGHUP in the middle of the phase to the reload logged done. */
  reloadMs?: number;
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmt1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');

/** Samples /health and RSS while `work` runs. */
async function sampled<T>(gw: GatewayProcess, work: Promise<T>): Promise<{ result: T } & Samples> {
  const health: number[] = [];
  const reference: number[] = [];
  const worst = { ms: 0, atS: 0 };
  const status: Record<number, number> = {};
  const rss: number[] = [];
  const notOk = new Set<string>();
  const t0 = performance.now();
  let healthyFromMs = 0;
  let done = false;
  const probe = (async () => {
    while (!done) {
      const sentAt = performance.now() - t0;
      const h = await gw.health(5000);
      health.push(h.ms);
      if (h.ms > worst.ms) Object.assign(worst, { ms: h.ms, atS: sentAt / 1000 });
      status[h.status] = (status[h.status] ?? 0) + 1;
      if (h.status !== 200) {
        healthyFromMs = NaN;
        for (const [part, v] of Object.entries(h.body?.parts ?? {})) if (v.ok !== true) notOk.add(part);
      } else if (Number.isNaN(healthyFromMs)) healthyFromMs = performance.now() - t0;
      reference.push(await REFERENCE.answerMs());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const memory = setInterval(() => rss.push(gw.rssMb()), 500);
  const heap: number[] = [];
  const heapProbe = setInterval(() => {
    gw.metrics().then(
      (m) => heap.push((m.get('tinyml_gateway_nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20),
      () => undefined,
    );
  }, 2000);
  const result = await work;
  done = true;
  clearInterval(memory);
  clearInterval(heapProbe);
  await probe;
  return { result, health, healthStatus: status, healthyFromMs, notOk: [...notOk], rss, heap, reference, worst };
}

/** A QoS 1 publisher with 64 messages in flight, as fast as the gateway acknowledges, until `until`. */
async function qos1Flood(port: number, until: number): Promise<{ acked: number; seconds: number }> {
  const client: MqttClient = await connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: `qos1-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
  });
  const t0 = performance.now();
  let acked = 0;
  let seq = 0;
  const one = async (): Promise<void> => {
    while (Date.now() < until) {
      const n = seq++;
      const device = `q${n % 100}`;
      const payload = JSON.stringify({
        device,
        ts: 1_767_225_600_000 + n,
        seq: n,
        model: { name: 'motor-anomaly', version: '2.3.1' },
        anomaly: 0.1,
      });
      await client.publishAsync(`tinyml/${device}/inference`, payload, { qos: 1 });
      acked++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, one));
  const seconds = (performance.now() - t0) / 1000;
  await client.endAsync();
  return { acked, seconds };
}

async function phase(
  gw: GatewayProcess,
  mqttPort: number,
  name: string,
  target: number,
  seconds: number,
  withQos1 = false,
): Promise<Phase> {
  const before = await gw.metrics();
  const cpu0 = gw.cpuSeconds();
  const t0 = performance.now();
  const until = Date.now() + seconds * 1000;
  const work = Promise.all([
    runFlood({ port: mqttPort, connections: CONNECTIONS, devices: DEVICES, rate: target, seconds }),
    withQos1 ? qos1Flood(mqttPort, until) : Promise.resolve(undefined),
    withQos1 ? reloadAfter(gw, (seconds * 1000) / 2) : Promise.resolve(undefined),
  ]);
  const { result, ...samples } = await sampled(gw, work);
  // Let what the sockets still held reach the counters.
  await new Promise((r) => setTimeout(r, 1000));
  const after = await gw.metrics();
  const delta = (name: string, labels = ''): number => metricSum(after, name, labels) - metricSum(before, name, labels);
  const [flood, qos1, reloadMs] = result;
  return {
    name,
    target,
    flood,
    accepted: delta('tinyml_gateway_events_accepted_total'),
    shed: delta('tinyml_gateway_events_shed_total'),
    received: delta('tinyml_gateway_events_received_total', 'source="mqtt"'),
    ...samples,
    cpu: ((gw.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000)) * 100,
    majorGc: {
      count: delta('tinyml_gateway_nodejs_gc_duration_seconds_count', 'kind="major"'),
      seconds: delta('tinyml_gateway_nodejs_gc_duration_seconds_sum', 'kind="major"'),
    },
    lagMaxMs: (after.get('tinyml_gateway_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    ...(qos1 ? { qos1 } : {}),
    ...(reloadMs !== undefined ? { reloadMs } : {}),
  };
}

/** SIGHUP after `delayMs`; resolves with the ms until the gateway logged the reload done (NaN: rejected or not within 30 s). */
async function reloadAfter(gw: GatewayProcess, delayMs: number): Promise<number> {
  await new Promise((r) => setTimeout(r, delayMs));
  const from = gw.logs.length;
  const t0 = performance.now();
  gw.signal('SIGHUP');
  while (performance.now() - t0 < 30_000) {
    const line = gw.logs
      .slice(from)
      .find((l) => l.msg === 'rules and devices reloaded' || l.msg === 'reload rejected; keeping the running config');
    if (line) return line.msg === 'rules and devices reloaded' ? performance.now() - t0 : NaN;
    await new Promise((r) => setTimeout(r, 20));
  }
  return NaN;
}

/**
 * The floor for /health latency on this machine under the same load: a bare HTTP server in its
 * own process that does nothing else, probed the same way right after each /health. What it
 * takes is the scheduling and loopback cost of two cores shared by the gateway, the publisher
 * and InfluxDB; the gateway cannot answer faster than that.
 */
class ReferenceServer {
  private child?: ChildProcess;
  private port = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    const code = `require('node:http').createServer((q, r) => r.end('{"status":"ok"}')).listen(${this.port}, '127.0.0.1', () => console.log('up'))`;
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`reference server exited ${String(c)}`)));
    });
  }

  async answerMs(): Promise<number> {
    const t0 = performance.now();
    try {
      await (await fetch(`http://127.0.0.1:${this.port}/health`, { signal: AbortSignal.timeout(5000) })).text();
    } catch {
      return NaN;
    }
    return performance.now() - t0;
  }

  stop(): void {
    this.child?.kill();
  }
}
const REFERENCE = new ReferenceServer();

const keptUp = (p: Phase): boolean =>
  p.flood.sent >= 0.98 * p.target * p.flood.seconds && p.shed === 0 && p.accepted >= 0.97 * p.flood.sent;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-overload-'));
  let influx: InfluxServer | undefined;
  let gw: GatewayProcess | undefined;
  try {
    if (WITH_INFLUX) influx = await startInfluxd();
    await REFERENCE.start();
    const ports = { mqtt: await freePort(), opcua: await freePort(), modbus: await freePort(), http: await freePort() };
    gw = GatewayProcess.write(
      dir,
      {
        gateway: { id: 'bench', dataDir: join(dir, 'data'), logLevel: 'info' },
        mqtt: { broker: { host: '127.0.0.1', port: ports.mqtt } },
        opcua: { port: ports.opcua, host: '127.0.0.1', security: { modes: ['None'], allowAnonymous: true } },
        modbus: { host: '127.0.0.1', port: ports.modbus, testPattern: { address: 60000 } },
        http: { host: '127.0.0.1', port: ports.http },
        influx: influx ? { enabled: true, url: influx.url, database: 'bench' } : { enabled: false },
        devices: Array.from({ length: DEVICES }, (_, i) => ({ id: `d${i}` })),
        rules: [
          {
            id: 'persist',
            pipeline: [{ persistence: { field: 'anomaly', atLeast: 0.8, n: 3, m: 5, clearAfter: 5 } }],
            outputs: { alarm: { severity: 700 } },
          },
        ],
      },
      ports.http,
    );
    await gw.start();
    console.log(`# bench:overload — ${DEVICES} devices, ${CONNECTIONS} publisher connections, InfluxDB ${influx ? 'on' : 'off'}`);
    await phase(gw, ports.mqtt, 'warm-up', 2000, 5);

    let sustainable = 0;
    for (const rate of STEPS) {
      const p = await phase(gw, ports.mqtt, `step ${rate}`, rate, STEP_SECONDS);
      const ok = keptUp(p);
      console.log(
        `step ${fmt(rate)}/s: published ${fmt(p.flood.sent / p.flood.seconds)}/s, accepted ${fmt(p.accepted / p.flood.seconds)}/s, ` +
          `shed ${fmt(p.shed)}, CPU ${fmt(p.cpu)}% → ${ok ? 'keeps up' : 'does not keep up'}`,
      );
      if (!ok) break;
      sustainable = rate;
      await new Promise((r) => setTimeout(r, 2000));
    }
    if (sustainable === 0) throw new Error('the gateway kept up with no step');
    await new Promise((r) => setTimeout(r, 3000));
    const phases: Phase[] = [await phase(gw, ports.mqtt, `steady (S = ${fmt(sustainable)}/s)`, sustainable, STEADY_SECONDS)];
    for (const times of [5, 10]) {
      await new Promise((r) => setTimeout(r, 2000));
      phases.push(await phase(gw, ports.mqtt, `${times}× S`, sustainable * times, OVERLOAD_SECONDS, true));
    }
    phases.push(await phase(gw, ports.mqtt, 'recovery (S/2)', sustainable / 2, RECOVERY_SECONDS));
    report(phases, sustainable);
  } finally {
    await gw?.stop();
    await influx?.stop();
    REFERENCE.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(phases: Phase[], sustainable: number): void {
  // Like with like: a phase's median RSS against the steady median, its peak against the steady peak.
  const steadyRss = { median: median(phases[0]!.rss), max: Math.max(...phases[0]!.rss) };
  console.log(`\nsustainable S = ${fmt(sustainable)} ev/s (highest step kept up: ≥ 98% published, ≥ 97% accepted, nothing shed)\n`);
  console.log(
    '| phase | offered ev/s | published ev/s | accepted ev/s | shed | QoS 1 acked ev/s | /health p50 / p99 / max ms | reference p50 / p99 / max ms | /health answers | ' +
      'RSS median / max MB | RSS vs steady (median, max) | heap used median / max MB | gateway CPU % | loop delay max ms | full GCs (s) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const p of phases) {
    const h = [...p.health].sort((a, b) => a - b);
    const r = p.reference.filter(Number.isFinite).sort((a, b) => a - b);
    const codes = Object.entries(p.healthStatus)
      .map(([c, n]) => `${c}×${n}`)
      .join(' ');
    const rssMax = Math.max(...p.rss);
    console.log(
      `| ${p.name} | ${fmt(p.target)} | ${fmt(p.flood.sent / p.flood.seconds)} | ${fmt(p.accepted / p.flood.seconds)} | ${fmt(p.shed)} | ` +
        `${p.qos1 ? fmt(p.qos1.acked / p.qos1.seconds) : '—'} | ${fmt1(percentile(h, 50))} / ${fmt1(percentile(h, 99))} / ${fmt1(h[h.length - 1] ?? NaN)} | ` +
        `${fmt1(percentile(r, 50))} / ${fmt1(percentile(r, 99))} / ${fmt1(r[r.length - 1] ?? NaN)} | ` +
        `${codes} | ${fmt(median(p.rss))} / ${fmt(rssMax)} | ${(median(p.rss) / steadyRss.median).toFixed(2)}×, ${(rssMax / steadyRss.max).toFixed(2)}× | ` +
        `${fmt(median(p.heap))} / ${fmt(Math.max(...p.heap))} | ${fmt(p.cpu)} | ${fmt(p.lagMaxMs)} | ` +
        `${fmt(p.majorGc.count)} (${p.majorGc.seconds.toFixed(2)}) |`,
    );
  }
  console.log('');
  for (const p of phases) {
    // Every frame the broker handed over is accepted or shed: none is lost unseen.
    const published = p.flood.sent + (p.qos1?.acked ?? 0);
    const notOk = p.notOk.length > 0 ? `; not ok meanwhile: ${p.notOk.join(', ')}` : '';
    const reload = p.reloadMs !== undefined ? `; SIGHUP reload done in ${fmt(p.reloadMs)} ms` : '';
    console.log(
      `${p.name}: published ${fmt(published)}, received ${fmt(p.received)}, accepted + shed ${fmt(p.accepted + p.shed)}${notOk}${reload}; ` +
        `slowest /health ${fmt(p.worst.ms)} ms, asked ${p.worst.atS.toFixed(1)} s into the phase`,
    );
  }
  const recovery = phases[phases.length - 1]!;
  console.log(`\nrecovery: /health 200 from ${fmt(recovery.healthyFromMs)} ms into the recovery phase on`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
