// npm run bench:e2e — the whole path on the peer harness's contract (../shared/peer-nodered/README.md):
// MQTT in (embedded broker, QoS 0), one 3-of-5 persistence rule, Modbus TCP and OPC UA out, and
// InfluxDB when asked. A real gateway process; a paced publisher in a worker thread; latency probes
// and the functional check as clients over sockets. In the same run, the bare limit: the same
// broker and publisher with a subscriber that only JSON.parses.
//
// Per scenario (devices × InfluxDB): start → ready, idle RSS; latency at 1k and 10k ev/s background;
// rate steps up to the first one not kept up, the functional check running during each step.
//
// Knobs (env): BENCH_E2E_SCENARIOS (default "1000,1000+influx,10000,10000+influx"), BENCH_E2E_RATES
// (default 10000,20000,30000,40000,50000,60000), BENCH_E2E_BARE_RATES, BENCH_E2E_STEP_SECONDS (20),
// BENCH_E2E_LATENCY_RATES (1000,10000), BENCH_E2E_MODBUS_SAMPLES (500), BENCH_E2E_OPCUA_SAMPLES (100),
// BENCH_E2E_SOAK_MINUTES (0: after the steps, hold 10k ev/s that long and sample RSS),
// BENCH_E2E_WARMUP_SECONDS (3: background load before the latency probes start).
// After the scenarios, the Modbus floor (bare-limit.js bridge) with the same probe and load, and the
// start floor (e2e/opcua-start.js: node-opcua's server alone), three starts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, median, terminate } from './bench-util.js';
import { accepts, cpuSecondsOf, GatewayProcess, metricSum, rssMbOf } from './gateway-process.js';
import { runFlood, stopAllFloods } from './mqtt-flood.js';
import { startInfluxd, type InfluxServer } from './influxd.js';
import { modbusLatency, opcuaLatency, type Latency } from './e2e/probes.js';
import { verify, VERIFY_DEVICES_PER_RUN, type VerifyResult } from './e2e/verify.js';

const list = (name: string, fallback: string): string[] => (process.env[name] ?? fallback).split(',').filter(Boolean);
const SCENARIOS = list('BENCH_E2E_SCENARIOS', '1000,1000+influx,10000,10000+influx');
const RATES = list('BENCH_E2E_RATES', '10000,20000,30000,40000,50000,60000').map(Number);
const BARE_RATES = list('BENCH_E2E_BARE_RATES', '20000,40000,60000,80000').map(Number);
const STEP_SECONDS = Number(process.env.BENCH_E2E_STEP_SECONDS ?? 20);
const LATENCY_RATES = list('BENCH_E2E_LATENCY_RATES', '1000,10000').map(Number);
const MODBUS_SAMPLES = Number(process.env.BENCH_E2E_MODBUS_SAMPLES ?? 500);
const OPCUA_SAMPLES = Number(process.env.BENCH_E2E_OPCUA_SAMPLES ?? 100);
const SOAK_MINUTES = Number(process.env.BENCH_E2E_SOAK_MINUTES ?? 0);
const WARMUP_SECONDS = Number(process.env.BENCH_E2E_WARMUP_SECONDS ?? 3);
/** d0 is the probes' device; then a block of fresh devices for each functional check. */
const PROBE_DEVICE = 0;
const VERIFY_RUNS = 12;
const RESERVED = Array.from({ length: 1 + VERIFY_RUNS * VERIFY_DEVICES_PER_RUN }, (_, i) => i);
const CONNECTIONS = 1;
/** InfluxDB keeps pace when it has every point of a step this long after the step: its batches go out at least once a second. */
const INFLUX_LAG_S = 2.5;
/** As the peer's publisher: a socket may hold 4 MiB before the target counts as pushing back. */
const QUEUE_BYTES = 4 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : '–');

interface Step {
  rate: number;
  published: number;
  processed: number;
  backlogS: number;
  drainS: number;
  lost: number;
  /** Events the gateway's overload control shed (QoS 0) during the step. */
  shed: number;
  /** With InfluxDB: seconds after the publisher stopped until InfluxDB confirmed as many points as events were sent. */
  influxLagS?: number;
  cpu: number;
  rssMax: number;
  keptUp: boolean;
  verify?: VerifyResult;
}

interface ScenarioResult {
  name: string;
  devices: number;
  influx: boolean;
  startS: number;
  idleRss: number;
  latency: { rate: number; modbus: Latency; opcua: Latency & { revisedSamplingMs: number }; rss: number }[];
  steps: Step[];
  soakRss?: number[];
}

function gatewayConfig(dir: string, devices: number, ports: Record<string, number>, influx?: InfluxServer): Record<string, unknown> {
  return {
    gateway: { id: 'bench-e2e', dataDir: join(dir, 'data'), logLevel: 'warn' },
    mqtt: { broker: { host: '127.0.0.1', port: ports.mqtt }, republishEvents: false },
    opcua: { port: ports.opcua, host: '127.0.0.1', security: { modes: ['None'], allowAnonymous: true } },
    modbus: {
      host: '127.0.0.1',
      port: ports.modbus,
      unitId: 1,
      // Device i owns addresses 2i, 2i+1 in every table: its anomaly in holding registers, its alarm at coil 2i.
      blockSize: 2,
      wordOrder: 'ABCD',
      testPattern: { address: Math.max(9000, 2 * devices + 16) },
      profiles: {
        default: {
          fields: [
            { field: 'anomaly', table: 'holding_register', address: 0, type: 'float32' },
            { field: 'alarm.pdm-persistence', table: 'coil', address: 0 },
          ],
        },
      },
    },
    http: { host: '127.0.0.1', port: ports.http },
    influx: influx ? { enabled: true, url: influx.url, database: 'bench' } : { enabled: false },
    devices: Array.from({ length: devices }, (_, i) => ({ id: `d${i}` })),
    rules: [
      {
        id: 'pdm-persistence',
        pipeline: [{ persistence: { field: 'anomaly', atLeast: 0.8, n: 3, m: 5, clearAfter: 5 } }],
        outputs: { alarm: { severity: 700 } },
      },
    ],
  };
}

/** Samples RSS every 500 ms until stopped. */
function rssSampler(rss: () => number): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(rss()), 500);
  return {
    stop: () => {
      clearInterval(timer);
      return samples.filter(Number.isFinite);
    },
  };
}

/**
 * One rate step, the peer's way (steps.mjs): kept up when the publisher reached 98% of the target,
 * 97% was processed while it ran, the backlog at its end was at most 0.5 s of events and drained
 * within 1 s, and nothing was lost.
 */
async function step(
  target: {
    mqttPort: number;
    devices: number;
    processed: () => Promise<number>;
    shed?: () => Promise<number>;
    /** Points InfluxDB confirmed, when the target writes to it. */
    written?: () => Promise<number>;
    cpuSeconds: () => number;
    rss: () => number;
  },
  rate: number,
  check?: () => Promise<VerifyResult>,
): Promise<Step> {
  const before = await target.processed();
  const shed0 = (await target.shed?.()) ?? 0;
  const written0 = await target.written?.();
  const cpu0 = target.cpuSeconds();
  const t0 = performance.now();
  const rss = rssSampler(target.rss);
  const flood = runFlood({
    port: target.mqttPort,
    connections: CONNECTIONS,
    devices: target.devices,
    rate,
    seconds: STEP_SECONDS,
    payloads: 'contract',
    queueBytes: QUEUE_BYTES,
    skip: RESERVED,
  });
  // The check starts once the load is up, and its own events are not counted as load.
  const checked = check ? sleep(2000).then(check) : Promise.resolve(undefined);
  const result = await flood;
  const atStop = (await target.processed()) - before;
  const stopAt = performance.now();
  const verified = await checked;
  const checkEvents = verified ? verified.checks / 2 - 1 : 0;
  let done = atStop;
  while (performance.now() - stopAt < 10_000) {
    done = (await target.processed()) - before;
    if (done - checkEvents >= result.sent) break;
    await sleep(20);
  }
  const drainS = (performance.now() - stopAt) / 1000;
  // Accepting is not enough with InfluxDB on: the history has to keep pace too, within a flush or two.
  let influxLagS: number | undefined;
  if (target.written && written0 !== undefined) {
    while ((await target.written()) - written0 < result.sent && performance.now() - stopAt < 20_000) await sleep(50);
    influxLagS = (performance.now() - stopAt) / 1000;
  }
  const cpu = (100 * (target.cpuSeconds() - cpu0)) / ((stopAt - t0) / 1000);
  const rssSamples = rss.stop();
  const backlog = Math.max(0, result.sent - (atStop - checkEvents));
  const shed = ((await target.shed?.()) ?? 0) - shed0;
  const s: Step = {
    rate,
    published: result.sent / result.seconds,
    processed: (atStop - checkEvents) / result.seconds,
    backlogS: backlog / rate,
    drainS,
    lost: Math.max(0, result.sent - (done - checkEvents)),
    shed,
    ...(influxLagS === undefined ? {} : { influxLagS }),
    cpu,
    rssMax: Math.max(...rssSamples),
    keptUp: false,
    ...(verified ? { verify: verified } : {}),
  };
  const influxKept = influxLagS === undefined || influxLagS <= INFLUX_LAG_S;
  s.keptUp = s.published >= 0.98 * rate && s.processed >= 0.97 * rate && s.backlogS <= 0.5 && drainS <= 1 && s.lost === 0 && influxKept;
  return s;
}

async function scenario(name: string): Promise<ScenarioResult> {
  const devices = Number(name.split('+')[0]);
  const withInflux = name.includes('+influx');
  const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  let influx: InfluxServer | undefined;
  let gw: GatewayProcess | undefined;
  try {
    if (withInflux) influx = await startInfluxd();
    const ports = { mqtt: await freePort(), opcua: await freePort(), modbus: await freePort(), http: await freePort() };
    gw = GatewayProcess.write(dir, gatewayConfig(dir, devices, ports, influx), ports.http);
    const startS = await gw.startUntilReady([ports.mqtt, ports.opcua, ports.modbus]);
    await sleep(3000);
    const idleRss = gw.rssMb();
    console.log(
      `\n## ${name}: ${fmt(devices)} devices, InfluxDB ${influx ? 'on' : 'off'}: ready in ${fmt(startS, 2)} s, idle RSS ${fmt(idleRss)} MB`,
    );
    const g = gw;
    const endpoint = `opc.tcp://127.0.0.1:${ports.opcua}/UA/TinyMLGateway`;
    const target = {
      mqttPort: ports.mqtt,
      devices,
      processed: async () => metricSum(await g.metrics(), 'tinyml_gateway_events_accepted_total'),
      shed: async () => metricSum(await g.metrics(), 'tinyml_gateway_events_shed_total'),
      ...(withInflux
        ? { written: async () => metricSum(await g.metrics(), 'tinyml_gateway_sink_points_written_total', 'sink="influx"') }
        : {}),
      cpuSeconds: () => g.cpuSeconds(),
      rss: () => g.rssMb(),
    };
    const latency: ScenarioResult['latency'] = [];
    for (const rate of LATENCY_RATES) {
      // In the background until stopped.
      void runFlood({
        port: ports.mqtt,
        connections: CONNECTIONS,
        devices,
        rate,
        seconds: 3600,
        payloads: 'contract',
        queueBytes: QUEUE_BYTES,
        skip: RESERVED,
      });
      await sleep(WARMUP_SECONDS * 1000);
      const device = `d${PROBE_DEVICE}`;
      const modbus = await modbusLatency({
        mqttPort: ports.mqtt,
        modbusPort: ports.modbus,
        device,
        address: 2 * PROBE_DEVICE,
        samples: MODBUS_SAMPLES,
      });
      const opcua = await opcuaLatency({
        mqttPort: ports.mqtt,
        endpoint,
        pkiDir: dir,
        device,
        nodeId: (ns) => `ns=${ns};s=Devices/${device}/AnomalyScore`,
        samples: OPCUA_SAMPLES,
      });
      latency.push({ rate, modbus, opcua, rss: g.rssMb() });
      console.log(
        `latency at ${fmt(rate)} ev/s: Modbus p50/p99 ${fmt(modbus.p50, 1)}/${fmt(modbus.p99, 1)} ms (max ${fmt(modbus.max)}, ${modbus.timeouts} timeouts); ` +
          `OPC UA p50/p99 ${fmt(opcua.p50, 1)}/${fmt(opcua.p99, 1)} ms (max ${fmt(opcua.max)}, sampling revised to ${opcua.revisedSamplingMs} ms)`,
      );
      await stopAllFloods();
      await sleep(2000);
    }
    const steps: Step[] = [];
    let run = 0;
    for (const rate of RATES) {
      const devicesOfRun = Array.from({ length: VERIFY_DEVICES_PER_RUN }, (_, k) => 1 + run * VERIFY_DEVICES_PER_RUN + k);
      run++;
      const s = await step(target, rate, () =>
        verify({ mqttPort: ports.mqtt, modbusPort: ports.modbus, endpoint, pkiDir: dir, devices: devicesOfRun, deviceCount: devices }),
      );
      steps.push(s);
      console.log(stepLine(s));
      if (!s.keptUp) break;
      await sleep(2000);
    }
    let soakRss: number[] | undefined;
    if (SOAK_MINUTES > 0) {
      const rss = rssSampler(target.rss);
      await runFlood({
        port: ports.mqtt,
        connections: CONNECTIONS,
        devices,
        rate: 10_000,
        seconds: SOAK_MINUTES * 60,
        payloads: 'contract',
        skip: RESERVED,
      });
      soakRss = rss.stop();
      console.log(
        `soak ${SOAK_MINUTES} min at 10k ev/s: RSS first minute median ${fmt(median(soakRss.slice(0, 120)))} MB, last minute median ${fmt(median(soakRss.slice(-120)))} MB, max ${fmt(Math.max(...soakRss))} MB`,
      );
      // Two samples a second: a median per five minutes shows a drift that first and last alone could hide.
      const samples = soakRss;
      const fives = Array.from({ length: Math.ceil(samples.length / 600) }, (_, k) => fmt(median(samples.slice(k * 600, (k + 1) * 600))));
      console.log(`soak RSS medians per 5 min: ${fives.join(', ')} MB`);
    }
    return { name, devices, influx: Boolean(influx), startS, idleRss, latency, steps, ...(soakRss ? { soakRss } : {}) };
  } finally {
    await gw?.stop();
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const stepLine = (s: Step): string =>
  `step ${fmt(s.rate)}/s: published ${fmt(s.published)}/s, processed ${fmt(s.processed)}/s, backlog ${fmt(s.backlogS, 2)} s, ` +
  `drain ${fmt(s.drainS, 2)} s, ${s.influxLagS === undefined ? '' : `InfluxDB has all after ${fmt(s.influxLagS, 2)} s, `}lost ${fmt(s.lost)} (shed ${fmt(s.shed)}), CPU ${fmt(s.cpu)}%, RSS max ${fmt(s.rssMax)} MB, ` +
  `verify ${s.verify ? (s.verify.ok ? `ok (${s.verify.checks})` : `FAILED ${JSON.stringify(s.verify.failures.slice(0, 3))}`) : '–'} → ${s.keptUp ? 'keeps up' : 'does not keep up'}`;

/** The bare limit: broker and JSON.parse subscriber in their own processes, the same publisher; with InfluxDB, the subscriber writes every event to it. */
async function bareLimit(influx?: InfluxServer): Promise<{ steps: Step[]; subscriberRss: number }> {
  const port = await freePort();
  if (influx) await influx.query('_internal', 'CREATE DATABASE bare');
  const script = join(import.meta.dirname, 'e2e', 'bare-limit.js');
  const children: ChildProcess[] = [];
  try {
    const broker = spawn(process.execPath, [script, 'broker', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(broker);
    await new Promise((r) => broker.stdout.once('data', r));
    const args = [script, 'subscriber', String(port), ...(influx ? [influx.url, 'bare'] : [])];
    const subscriber = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(subscriber);
    let processed = 0;
    subscriber.stdout.on('data', (chunk: Buffer) => {
      const last = chunk.toString('utf8').trim().split('\n').at(-1);
      if (last) processed = (JSON.parse(last) as { processed: number }).processed;
    });
    await new Promise((r) => subscriber.stdout.once('data', r));
    const target = {
      mqttPort: port,
      devices: 1000,
      processed: async () => {
        await sleep(210);
        return processed;
      },
      cpuSeconds: () => cpuSecondsOf(subscriber.pid) + cpuSecondsOf(broker.pid),
      rss: () => rssMbOf(subscriber.pid),
    };
    console.log(
      influx
        ? '\n## bare limit + InfluxDB: the same, the subscriber writing every event to InfluxDB in batches (processed = written; CPU is broker + subscriber)'
        : '\n## bare limit: aedes broker + a subscriber that only JSON.parses (CPU is broker + subscriber)',
    );
    const steps: Step[] = [];
    for (const rate of BARE_RATES) {
      const s = await step(target, rate);
      steps.push(s);
      console.log(stepLine(s));
      if (!s.keptUp) break;
      await sleep(2000);
    }
    return { steps, subscriberRss: rssMbOf(subscriber.pid) };
  } finally {
    for (const c of children) await terminate(c);
  }
}

/** Seconds from spawn to a port accepting, for node-opcua's server alone: the floor of start → ready. */
async function startFloor(runs = 3): Promise<number[]> {
  const script = join(import.meta.dirname, 'e2e', 'opcua-start.js');
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-ua-'));
    const t0 = performance.now();
    const child = spawn(process.execPath, [script, String(port), dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      while (!(await accepts(port))) {
        if (child.exitCode !== null) throw new Error(`opcua-start exited ${child.exitCode}`);
        await sleep(20);
      }
      out.push((performance.now() - t0) / 1000);
    } finally {
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

/**
 * The floor of the Modbus latency on this machine: broker, JSON.parse and a register write in one
 * process (bare-limit.js bridge), probed as the gateway is, with the same background load.
 */
async function modbusFloor(): Promise<{ rate: number; modbus: Latency }[]> {
  const [mqttPort, modbusPort] = [await freePort(), await freePort()];
  const script = join(import.meta.dirname, 'e2e', 'bare-limit.js');
  const bridge = spawn(process.execPath, [script, 'bridge', String(mqttPort), String(modbusPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  console.log('\n## Modbus floor: broker, JSON.parse and a register write in one process, the same probe and load');
  const out: { rate: number; modbus: Latency }[] = [];
  try {
    await new Promise((r) => bridge.stdout.once('data', r));
    for (const rate of LATENCY_RATES) {
      void runFlood({
        port: mqttPort,
        connections: CONNECTIONS,
        devices: 1000,
        rate,
        seconds: 3600,
        payloads: 'contract',
        queueBytes: QUEUE_BYTES,
        skip: RESERVED,
      });
      await sleep(WARMUP_SECONDS * 1000);
      const modbus = await modbusLatency({
        mqttPort,
        modbusPort,
        device: `d${PROBE_DEVICE}`,
        address: 2 * PROBE_DEVICE,
        samples: MODBUS_SAMPLES,
      });
      out.push({ rate, modbus });
      console.log(
        `latency at ${fmt(rate)} ev/s: Modbus p50/p99 ${fmt(modbus.p50, 1)}/${fmt(modbus.p99, 1)} ms (max ${fmt(modbus.max)}, ${modbus.timeouts} timeouts)`,
      );
      await stopAllFloods();
      await sleep(2000);
    }
  } finally {
    await terminate(bridge);
  }
  return out;
}

const sustained = (steps: Step[]): number => Math.max(0, ...steps.filter((s) => s.keptUp).map((s) => s.rate));
const highestProcessed = (steps: Step[]): number => Math.max(0, ...steps.map((s) => s.processed));

function report(results: ScenarioResult[], bare: { steps: Step[] }, bareInflux?: { steps: Step[] }): void {
  const ceiling = (steps: Step[]): number => Math.max(sustained(steps), highestProcessed(steps));
  const bareRate = sustained(bare.steps);
  const bareCeiling = ceiling(bare.steps);
  console.log(
    '\n## Summary (one run; ratios against the bare limit measured in this run, with InfluxDB against the bare limit + InfluxDB)\n',
  );
  console.log(
    '| scenario | start → ready s | idle RSS MB | sustained ev/s | of bare limit | most processed ev/s | RSS at 10k ev/s MB | Modbus p99 at 10k ms | OPC UA p99 at 10k ms | verify |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) {
    const reference = r.influx && bareInflux ? ceiling(bareInflux.steps) : bareCeiling;
    const at10k = r.latency.find((l) => l.rate === 10_000);
    const rate = sustained(r.steps);
    const verified = r.steps.every((s) => s.verify?.ok !== false);
    console.log(
      `| ${r.name} | ${fmt(r.startS, 2)} | ${fmt(r.idleRss)} | ${fmt(rate)} | ${fmt((100 * rate) / reference)}% | ${fmt(highestProcessed(r.steps))} | ` +
        `${fmt(at10k?.rss ?? NaN)} | ${fmt(at10k?.modbus.p99 ?? NaN, 1)} | ${fmt(at10k?.opcua.p99 ?? NaN, 1)} | ${verified ? `ok at ${r.steps.length} rates` : 'FAILED'} |`,
    );
  }
  console.log(`\nbare limit: kept up to ${fmt(bareRate)} ev/s, most processed ${fmt(highestProcessed(bare.steps))} ev/s`);
  if (bareInflux)
    console.log(
      `bare limit + InfluxDB: kept up to ${fmt(sustained(bareInflux.steps))} ev/s, most written ${fmt(highestProcessed(bareInflux.steps))} ev/s`,
    );
}

async function main(): Promise<void> {
  console.log(`# bench:e2e — steps of ${STEP_SECONDS} s, rates ${RATES.join(', ')}; scenarios ${SCENARIOS.join(', ')}`);
  const results: ScenarioResult[] = [];
  for (const name of SCENARIOS) results.push(await scenario(name));
  const floor = await modbusFloor();
  const starts = await startFloor();
  const bare = await bareLimit();
  let bareInflux: { steps: Step[] } | undefined;
  if (results.some((r) => r.influx)) {
    const influx = await startInfluxd();
    try {
      bareInflux = await bareLimit(influx);
    } finally {
      await influx.stop();
    }
  }
  report(results, bare, bareInflux);
  for (const f of floor) console.log(`Modbus floor at ${fmt(f.rate)} ev/s: p50/p99 ${fmt(f.modbus.p50, 1)}/${fmt(f.modbus.p99, 1)} ms`);
  console.log(
    `start floor (node-opcua's server alone): ready in ${fmt(median(starts), 2)} s (median of ${starts.map((s) => fmt(s, 2)).join(', ')})`,
  );
  if (results.some((r) => r.steps.some((s) => s.verify && !s.verify.ok))) process.exitCode = 1;
}

await main();
