// npm run bench:opcua — OPC UA notification latency under load, and RSS per device count.
//
// Latency: a gateway with 1,000 devices gets 1,000 events/s over MQTT; 20 OPC UA clients (in a
// worker thread, their own event loop) each watch 10 variables of every device at a 50 ms
// publishing interval. Each event carries its publish time as its anomaly score, so a client
// knows the latency of each AnomalyScore notification. The baseline, measured at the same time
// in the same process: the same events through the gateway's MQTT republish path. The publisher
// and the baseline subscriber run in a second worker, so the rate holds whatever the gateway does.
//
// RSS: a fresh process per run starts the gateway with N devices, sends one event per device and
// reports resident memory after GC, against the same process before the gateway started.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as perf, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  ClientSubscription,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  type DataValue,
} from 'node-opcua';
import { configSchema, type GatewayConfig } from '../config/schema.js';
import { silentLogger } from '../core/logger.js';
import { Gateway } from '../daemon/gateway.js';
import { freePort, median, now, percentile } from './bench-util.js';

const RATE = 1000;
const DEVICES = 1000;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 10);
const DRAIN_SECONDS = 5;
// BENCH_RUNS and BENCH_ONLY=latency|rss shorten a run while profiling.
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ONLY = process.env.BENCH_ONLY;
const VARIABLES = [
  'Label',
  'Confidence',
  'AnomalyScore',
  'LastSeen',
  'Online',
  'InferenceRate',
  'DspTimeMs',
  'InferenceTimeMs',
  'Model/Name',
  'Model/Version',
];

const deviceId = (i: number): string => `dev-${String(i).padStart(5, '0')}`;

async function benchConfig(devices: number, dataDir: string): Promise<GatewayConfig> {
  return configSchema.parse({
    gateway: { dataDir, logLevel: 'silent', offlineAfterMs: 60_000 },
    mqtt: { broker: { host: '127.0.0.1', port: await freePort() } },
    opcua: { port: await freePort(), host: '127.0.0.1', security: { modes: ['None'], allowAnonymous: true } },
    modbus: { enabled: false },
    http: { host: '127.0.0.1', port: await freePort() },
    devices: Array.from({ length: devices }, (_, i) => ({ id: deviceId(i), labels: ['normal', 'wear'] })),
  });
}

const event = (device: string, anomaly: number): string =>
  JSON.stringify({
    device,
    model: { name: 'motor-anomaly', version: '1.2.0' },
    label: 'normal',
    scores: { normal: 0.9, wear: 0.1 },
    anomaly,
    timing: { dsp_ms: 3, inference_ms: 7 },
  });

/** CPU time of the calling thread, in ms (Linux: utime + stime of /proc/thread-self, in 10 ms ticks). */
function threadCpuMs(): number {
  try {
    const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** The share of one core this thread used between two wall-clock times, resolved after `to`. */
function cpuShare(from: number, to: number): Promise<number> {
  return new Promise((resolve) => {
    setTimeout(() => {
      const [cpu0, wall0] = [threadCpuMs(), now()];
      setTimeout(() => resolve((threadCpuMs() - cpu0) / (now() - wall0)), to - now());
    }, from - now());
  });
}

/** Latencies by publish time, so a backlog that grows shows as a later third slower than the first. */
class Latencies {
  private readonly sent: number[] = [];
  private readonly took: number[] = [];
  add(sentAt: number, latency: number): void {
    this.sent.push(sentAt);
    this.took.push(latency);
  }
  summary(window: { from: number; to: number }): LatencySummary {
    const third = (window.to - window.from) / 3;
    const within = (lo: number, hi: number): number[] =>
      this.took.filter((_, i) => this.sent[i]! >= lo && this.sent[i]! < hi).sort((a, b) => a - b);
    const all = [...this.took].sort((a, b) => a - b);
    return {
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      count: all.length,
      firstThirdP50: percentile(within(window.from, window.from + third), 50),
      lastThirdP50: percentile(within(window.to - third, window.to), 50),
    };
  }
}

interface LatencySummary {
  p50: number;
  p99: number;
  count: number;
  firstThirdP50: number;
  lastThirdP50: number;
}

interface RunResult {
  opcua: LatencySummary & { expected: number };
  mqtt: LatencySummary;
  published: number;
  /** Share of one core each thread used inside the window. */
  cpu: { gateway: number; clients: number; publisher: number };
  /** Full (mark-compact) collections of the gateway thread inside the window, and their pauses. */
  majorGc: { count: number; pauseMs: number };
}

/** From the main thread: the publish-time window to measure, or what to do next. */
type Command = { from: number; to: number } | 'report' | 'close';

// ---- worker: the 20 OPC UA clients and the MQTT baseline subscriber ----

async function clients(): Promise<void> {
  const { opcuaPort } = workerData as { opcuaPort: number };
  const port = parentPort!;
  const sessions: { client: OPCUAClient; subscription: ClientSubscription }[] = [];
  let window = { from: Infinity, to: -Infinity };
  let cpu = Promise.resolve(NaN);
  const opcua = new Latencies();
  for (let c = 0; c < CLIENTS; c++) {
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
    });
    await client.connect(`opc.tcp://127.0.0.1:${opcuaPort}/UA/TinyMLGateway`);
    const session = await client.createSession();
    const ns = (await session.readNamespaceArray()).indexOf('urn:tinyml-gateway');
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: 50,
      requestedMaxKeepAliveCount: 20,
      requestedLifetimeCount: 600,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
    });
    const items = [];
    for (let d = 0; d < DEVICES; d++) {
      for (const v of VARIABLES) items.push({ nodeId: `ns=${ns};s=Devices/${deviceId(d)}/${v}`, attributeId: AttributeIds.Value });
    }
    const anomalyIndex = VARIABLES.indexOf('AnomalyScore');
    const group = await ClientMonitoredItemGroup.create(
      subscription,
      items,
      { samplingInterval: 0, queueSize: 10, discardOldest: true },
      TimestampsToReturn.Neither,
    );
    group.on('changed', (_item: unknown, dv: DataValue, index: number) => {
      if (index % VARIABLES.length !== anomalyIndex) return;
      const sentAt = dv.value.value as number;
      if (sentAt >= window.from && sentAt < window.to) opcua.add(sentAt, now() - sentAt);
    });
    sessions.push({ client, subscription });
  }
  port.on('message', (m: Command) => {
    if (typeof m === 'object') [window, cpu] = [m, cpuShare(m.from, m.to)];
    else if (m === 'report') {
      void cpu.then((share) => port.postMessage({ ...opcua.summary(window), cpu: share }));
    } else if (m === 'close') {
      void (async () => {
        for (const s of sessions) await s.client.disconnect();
        port.postMessage('closed');
      })();
    }
  });
  port.postMessage('ready');
}

// ---- worker: the MCU fleet (publisher) and the baseline MQTT subscriber ----

async function publisher(): Promise<void> {
  const { mqttPort } = workerData as { mqttPort: number };
  const port = parentPort!;
  const pub = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'bench-publisher' });
  const sub: MqttClient = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'bench-baseline' });
  await sub.subscribeAsync('tinyml/+/event', { qos: 0 });
  const mqtt = new Latencies();
  let window = { from: Infinity, to: -Infinity };
  let cpu = Promise.resolve(NaN);
  sub.on('message', (_topic, payload) => {
    const sentAt = (JSON.parse(payload.toString()) as { anomaly: number }).anomaly;
    if (sentAt >= window.from && sentAt < window.to) mqtt.add(sentAt, now() - sentAt);
  });
  let published = 0;
  let sent = 0;
  const t0 = now();
  // Catches up by the clock, so a late timer does not lower the rate.
  const tick = setInterval(() => {
    const due = Math.floor(((now() - t0) / 1000) * RATE);
    for (; published < due; published++) {
      const device = deviceId(published % DEVICES);
      const at = now();
      if (at >= window.from && at < window.to) sent++;
      pub.publish(`tinyml/${device}/inference`, event(device, at), { qos: 0 });
    }
  }, 5);
  port.on('message', (m: Command) => {
    if (typeof m === 'object') [window, cpu] = [m, cpuShare(m.from, m.to)];
    else if (m === 'report') {
      void cpu.then((share) => port.postMessage({ ...mqtt.summary(window), sent, cpu: share }));
    } else if (m === 'close') {
      clearInterval(tick);
      void Promise.all([pub.endAsync(), sub.endAsync()]).then(() => port.postMessage('closed'));
    }
  });
  port.postMessage('ready');
}

// ---- main: the gateway ----

async function latencyRun(): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tinyml-bench-'));
  const config = await benchConfig(DEVICES, dataDir);
  const gateway = new Gateway(config, { log: silentLogger() });
  await gateway.start();
  const start = (role: string): Worker =>
    new Worker(fileURLToPath(import.meta.url), { workerData: { role, opcuaPort: config.opcua.port, mqttPort: config.mqtt.broker.port } });
  const next = (w: Worker): Promise<unknown> => new Promise((resolve) => w.once('message', resolve));
  const clientWorker = start('clients');
  await next(clientWorker);
  const pubWorker = start('publisher');
  await next(pubWorker);
  // Only events published inside the window count, wherever their notifications arrive; the
  // drain after it lets late ones in, so a backlog shows as latency, not as loss.
  const from = now() + WARMUP_SECONDS * 1000;
  const to = from + SECONDS * 1000;
  const cpu = cpuShare(from, to);
  const gcs: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  for (const w of [clientWorker, pubWorker]) w.postMessage({ from, to });
  await new Promise((r) => setTimeout(r, to - now() + DRAIN_SECONDS * 1000));
  const reports = [next(clientWorker), next(pubWorker)];
  for (const w of [clientWorker, pubWorker]) w.postMessage('report');
  observer.disconnect();
  const major = gcs.filter((e) => {
    const at = performance.timeOrigin + e.startTime;
    return (e as { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR && at >= from && at < to;
  });
  const [ua, mq] = (await Promise.all(reports)) as [LatencySummary & { cpu: number }, LatencySummary & { sent: number; cpu: number }];
  for (const w of [pubWorker, clientWorker]) {
    const closed = next(w);
    w.postMessage('close');
    await closed;
    await w.terminate();
  }
  await gateway.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return {
    opcua: { ...ua, expected: mq.sent * CLIENTS },
    mqtt: mq,
    published: mq.sent,
    cpu: { gateway: await cpu, clients: ua.cpu, publisher: mq.cpu },
    majorGc: { count: major.length, pauseMs: major.reduce((sum, e) => sum + e.duration, 0) },
  };
}

/** In a child process: RSS of a gateway holding `devices` devices, each with one event. */
async function rssChild(devices: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().rss;
  const dataDir = mkdtempSync(join(tmpdir(), 'tinyml-bench-'));
  const config = await benchConfig(devices, dataDir);
  const started = now();
  const gateway = new Gateway(config, { log: silentLogger() });
  await gateway.start();
  const startMs = now() - started;
  const pub = await connectAsync(`mqtt://127.0.0.1:${config.mqtt.broker.port}`, { clientId: 'bench-rss' });
  for (let d = 0; d < devices; d++) pub.publish(`tinyml/${deviceId(d)}/inference`, event(deviceId(d), 0.1), { qos: 0 });
  while (gateway.pipeline.accepted < devices) await new Promise((r) => setTimeout(r, 50));
  await pub.endAsync();
  gc?.();
  const after = process.memoryUsage().rss;
  await gateway.stop();
  rmSync(dataDir, { recursive: true, force: true });
  await new Promise((resolve) => process.send?.({ devices, before, after, startMs }, resolve));
}

/** Each run in a fresh process, so one run's leftovers cannot slow the next. */
function latencyRunInChild(): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['latency']);
    child.once('message', (m) => resolve(m as RunResult));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`latency child exited ${code}`))));
  });
}

function rssRun(devices: number): Promise<{ before: number; after: number; startMs: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['rss', String(devices)], { execArgv: ['--expose-gc'] });
    child.once('message', (m) => resolve(m as { before: number; after: number; startMs: number }));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`rss child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  const pct = (share: number): string => `${(100 * share).toFixed(0)}%`;
  console.log(
    `OPC UA: ${DEVICES} devices × ${VARIABLES.length} variables, ${CLIENTS} clients at 50 ms, ${RATE} events/s; ${RUNS} runs of ${SECONDS} s`,
  );
  const runs: RunResult[] = [];
  for (let r = 0; r < (ONLY === 'rss' ? 0 : RUNS); r++) {
    const run = await latencyRunInChild();
    runs.push(run);
    console.log(
      `run ${r + 1}: OPC UA p50 ${run.opcua.p50.toFixed(1)} ms p99 ${run.opcua.p99.toFixed(1)} ms ` +
        `(p50 ${run.opcua.firstThirdP50.toFixed(0)} → ${run.opcua.lastThirdP50.toFixed(0)} ms from first to last third; ` +
        `${run.opcua.count}/${run.opcua.expected} AnomalyScore notifications); ` +
        `MQTT republish p50 ${run.mqtt.p50.toFixed(1)} ms p99 ${run.mqtt.p99.toFixed(1)} ms ` +
        `(p50 ${run.mqtt.firstThirdP50.toFixed(0)} → ${run.mqtt.lastThirdP50.toFixed(0)} ms); ${run.published} events; ` +
        `CPU (share of a core) gateway ${pct(run.cpu.gateway)}, clients ${pct(run.cpu.clients)}, publisher ${pct(run.cpu.publisher)}; ` +
        `gateway full GCs ${run.majorGc.count} (${run.majorGc.pauseMs.toFixed(0)} ms paused)`,
    );
  }
  const m = (f: (r: RunResult) => number): number => median(runs.map(f));
  if (runs.length > 0)
    console.log(
      `median: OPC UA p50 ${m((r) => r.opcua.p50).toFixed(1)} ms, p99 ${m((r) => r.opcua.p99).toFixed(1)} ms; ` +
        `baseline MQTT republish p50 ${m((r) => r.mqtt.p50).toFixed(1)} ms, p99 ${m((r) => r.mqtt.p99).toFixed(1)} ms; ` +
        `ratio p50 ${(m((r) => r.opcua.p50) / m((r) => r.mqtt.p50)).toFixed(1)}×, p99 ${(m((r) => r.opcua.p99) / m((r) => r.mqtt.p99)).toFixed(1)}×; ` +
        `delivered ${(100 * m((r) => r.opcua.count / r.opcua.expected)).toFixed(1)}% of AnomalyScore changes`,
    );
  for (const devices of ONLY === 'latency' ? [] : [1000, 10_000]) {
    const results = [];
    for (let r = 0; r < RUNS; r++) results.push(await rssRun(devices));
    const delta = median(results.map((x) => x.after - x.before));
    console.log(
      `RSS with ${devices} devices: median ${mb(median(results.map((x) => x.after)))} (baseline before start ${mb(median(results.map((x) => x.before)))}, ` +
        `+${mb(delta)}, ${(delta / devices / 1024).toFixed(1)} KB per device); start ${(median(results.map((x) => x.startMs)) / 1000).toFixed(1)} s`,
    );
  }
}

if (!isMainThread) void ((workerData as { role: string }).role === 'clients' ? clients() : publisher());
else if (process.argv[2] === 'latency')
  // Run alone (`node dist/bench/opcua-bench.js latency`, e.g. under --cpu-prof), it prints its result.
  void latencyRun().then((r) =>
    process.send ? process.send(r, () => process.exit(0)) : (console.log(JSON.stringify(r)), process.exit(0)),
  );
else if (process.argv[2] === 'rss') void rssChild(Number(process.argv[3])).then(() => process.exit(0));
else
  void main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
