// npm run soak -- --minutes N — the gateway run for N minutes as a plant runs it, with faults.
//
// A real gateway process against a real Mosquitto (its plant broker) and a real InfluxDB; MCUs
// publish QoS 1 at a steady rate; an MQTT subscriber and an OPC UA client watch the alarms. In
// turn, evenly spread: SIGHUP reloads (with a rule edit), the OPC UA client reconnecting, InfluxDB
// restarted, the gateway killed with SIGKILL and started again, Mosquitto restarted. At the end:
// every event the broker acknowledged is in InfluxDB exactly once, every alarm transition the
// gateway logged reached the MQTT subscriber and OPC UA (live, or in the event history a client
// reads after a gap), and the gateway's RSS is flat (least-squares slope per process lifetime).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from './bench-util.js';
import { GatewayProcess } from './gateway-process.js';
import { startInfluxd, type InfluxServer } from './influxd.js';
import { startMosquitto, type MosquittoServer } from './mosquitto.js';
import { McuFleet, MqttAlarmWatch, OpcuaAlarmWatch, transitionKey } from './soak-clients.js';

export interface SoakOptions {
  minutes: number;
  /** Events per second over all MCUs. */
  rate?: number;
  devices?: number;
  progress?: (line: string) => void;
}

type Fault = 'sighup' | 'opcua-reconnect' | 'influx-restart' | 'kill-9' | 'broker-restart';
const FAULTS: Fault[] = ['sighup', 'opcua-reconnect', 'influx-restart', 'kill-9', 'broker-restart'];

export interface SoakReport {
  ok: boolean;
  minutes: number;
  faults: Record<Fault, number>;
  published: number;
  acked: number;
  stored: number;
  missing: number;
  duplicates: number;
  transitions: number;
  mqttMissed: string[];
  opcuaMissed: string[];
  opcuaLive: number;
  /** Least-squares RSS slope of each gateway process that lived ≥ 2 min, MB per hour, after its first minute. */
  rssSlopesMbPerHour: number[];
  rssMb: { min: number; max: number };
  problems: string[];
}

/** Slope of y over x (hours) by least squares. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function gatewayConfig(
  dir: string,
  ports: { opcua: number; http: number },
  brokerUrl: string,
  influxUrl: string,
  severity: number,
): Record<string, unknown> {
  return {
    gateway: { id: 'soak-gw', dataDir: join(dir, 'data'), logLevel: 'info' },
    mqtt: { broker: { enabled: false }, url: brokerUrl, republishEvents: false },
    opcua: { port: ports.opcua, host: '127.0.0.1', security: { modes: ['None'], allowAnonymous: true } },
    modbus: { enabled: false },
    http: { host: '127.0.0.1', port: ports.http },
    influx: { enabled: true, url: influxUrl, database: 'soak', flushIntervalMs: 200, retry: { initialMs: 100, maxMs: 1000 } },
    rules: [
      {
        id: 'wear',
        pipeline: [{ persistence: { field: 'anomaly', atLeast: 0.8, n: 3, m: 5, clearAfter: 5 } }],
        outputs: { alarm: { severity } },
      },
    ],
  };
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const say = o.progress ?? (() => undefined);
  const rate = o.rate ?? 200;
  const devices = o.devices ?? 20;
  const dir = mkdtempSync(join(tmpdir(), 'tinyml-soak-'));
  const faults = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  const problems: string[] = [];
  let influx: InfluxServer | undefined;
  let broker: MosquittoServer | undefined;
  let gw: GatewayProcess | undefined;
  const fleetAndWatchers: { stop(): Promise<void> }[] = [];
  const processes: GatewayProcess[] = [];
  const rss: { process: number; at: number; mb: number }[] = [];
  try {
    influx = await startInfluxd();
    broker = await startMosquitto({ persistent: true });
    const ports = { opcua: await freePort(), http: await freePort() };
    let severity = 500;
    const write = (): void =>
      writeFileSync(join(dir, 'gateway.yaml'), stringify(gatewayConfig(dir, ports, broker!.url, influx!.url, severity)));
    write();
    const launch = async (): Promise<GatewayProcess> => {
      const p = new GatewayProcess(join(dir, 'gateway.yaml'), ports.http);
      processes.push(p);
      await p.start();
      return p;
    };
    gw = await launch();
    const alarmsMqtt = new MqttAlarmWatch(broker.url);
    await alarmsMqtt.start();
    const alarmsOpcua = new OpcuaAlarmWatch(ports.opcua, dir);
    await alarmsOpcua.start();
    const fleet = new McuFleet(broker.url, devices, rate);
    fleetAndWatchers.push(fleet, alarmsMqtt, alarmsOpcua);
    const t0 = Date.now();
    fleet.start();
    const memory = setInterval(() => rss.push({ process: processes.length - 1, at: Date.now(), mb: gw!.rssMb() }), 1000);

    const total = o.minutes * 60_000;
    const every = Math.max(10_000, Math.min(120_000, total / 10));
    let n = 0;
    for (let at = every; at < total - 10_000; at += every) {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + at - Date.now())));
      const fault = FAULTS[n++ % FAULTS.length]!;
      faults[fault]++;
      say(`${Math.round((Date.now() - t0) / 1000)} s: ${fault} (${fleet.acked.size} events acknowledged so far)`);
      if (fault === 'sighup') {
        severity = severity === 500 ? 600 : 500;
        write();
        gw.signal('SIGHUP');
      } else if (fault === 'opcua-reconnect') await alarmsOpcua.reconnect();
      else if (fault === 'influx-restart') {
        await influx.halt();
        await new Promise((r) => setTimeout(r, 5000));
        await influx.restart();
      } else if (fault === 'kill-9') {
        await gw.kill9();
        gw = await launch();
      } else {
        await broker.restart();
      }
    }
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + total - Date.now())));
    const end = Date.now();
    if (!(await fleet.drain(120_000))) problems.push('not every publish was acknowledged within 2 minutes of the end');
    clearInterval(memory);

    // Everything acknowledged reaches InfluxDB once the gateway drained its buffer.
    const stored = new Map<string, number>();
    const readStored = async (): Promise<void> => {
      stored.clear();
      for (let i = 0; i < devices; i++) {
        const device = McuFleet.deviceId(i);
        const rows = await influx!.query('soak', `SELECT seq FROM inference WHERE device = '${device}'`).catch(() => []);
        for (const r of rows) stored.set(`${device}|${String(r.seq)}`, (stored.get(`${device}|${String(r.seq)}`) ?? 0) + 1);
      }
    };
    const deadline = Date.now() + 180_000;
    do {
      await readStored();
      if ([...fleet.acked].every((k) => stored.has(k))) break;
      await new Promise((r) => setTimeout(r, 2000));
    } while (Date.now() < deadline);
    const missing = [...fleet.acked].filter((k) => !stored.has(k)).length;
    const duplicates = [...stored.values()].reduce((s, c) => s + c - 1, 0);
    if (missing > 0) problems.push(`${missing} acknowledged events are not in InfluxDB`);
    if (duplicates > 0) problems.push(`${duplicates} events are in InfluxDB more than once`);

    // The truth about alarms: the transitions every gateway process logged.
    const logged = new Set<string>();
    for (const p of processes) {
      for (const l of p.logs) {
        const a = l.alarm as { device?: string; rule?: string; state?: string; ts?: number } | undefined;
        if (a?.device && a.rule && a.ts !== undefined && (a.state === 'raised' || a.state === 'cleared'))
          logged.add(transitionKey(a.device, a.rule, a.state === 'raised', a.ts));
      }
    }
    await new Promise((r) => setTimeout(r, 3000));
    const history = await alarmsOpcua.history(t0 - 60_000, Date.now());
    const mqttMissed = [...logged].filter((k) => !alarmsMqtt.seen.has(k));
    const opcuaMissed = [...logged].filter((k) => !alarmsOpcua.seen.has(k) && !history.has(k));
    if (logged.size === 0) problems.push('no alarm transition happened: the soak proved nothing about alarms');
    if (mqttMissed.length > 0) problems.push(`${mqttMissed.length} alarm transitions never reached the MQTT subscriber`);
    if (opcuaMissed.length > 0) problems.push(`${opcuaMissed.length} alarm transitions reached OPC UA neither live nor in history`);

    const slopes: number[] = [];
    processes.forEach((_, i) => {
      const points = rss.filter((r) => r.process === i && Number.isFinite(r.mb));
      if (points.length < 120) return;
      const from = points[0]!.at + 60_000;
      const tail = points.filter((r) => r.at >= from).map((r): [number, number] => [(r.at - from) / 3_600_000, r.mb]);
      if (tail.length >= 60) slopes.push(slope(tail));
    });
    const mbs = rss.map((r) => r.mb).filter(Number.isFinite);
    say(`ended after ${Math.round((end - t0) / 1000)} s`);
    return {
      ok: problems.length === 0,
      minutes: o.minutes,
      faults,
      published: fleet.published,
      acked: fleet.acked.size,
      stored: stored.size,
      missing,
      duplicates,
      transitions: logged.size,
      mqttMissed,
      opcuaMissed,
      opcuaLive: [...logged].filter((k) => alarmsOpcua.seen.has(k)).length,
      rssSlopesMbPerHour: slopes,
      rssMb: { min: Math.min(...mbs), max: Math.max(...mbs) },
      problems,
    };
  } finally {
    for (const c of fleetAndWatchers) await c.stop().catch(() => undefined);
    await gw?.stop();
    await broker?.stop();
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report as the soak prints it. */
export function formatSoak(r: SoakReport): string {
  const faults = Object.entries(r.faults)
    .map(([f, n]) => `${f} ×${n}`)
    .join(', ');
  return [
    `soak ${r.minutes} min: ${r.ok ? 'OK' : 'FAILED'}`,
    `faults: ${faults}`,
    `events: ${r.published} published, ${r.acked} acknowledged, ${r.stored} in InfluxDB, ${r.missing} missing, ${r.duplicates} duplicates`,
    `alarm transitions: ${r.transitions} logged; MQTT missed ${r.mqttMissed.length}; OPC UA live ${r.opcuaLive}, missed live and in history ${r.opcuaMissed.length}`,
    `RSS: ${r.rssMb.min.toFixed(0)}–${r.rssMb.max.toFixed(0)} MB; slope per process lifetime (after its first minute): ${
      r.rssSlopesMbPerHour.length > 0 ? r.rssSlopesMbPerHour.map((s) => `${s.toFixed(1)} MB/h`).join(', ') : 'no process lived 2 minutes'
    }`,
    ...r.problems.map((p) => `problem: ${p}`),
    ...r.mqttMissed.slice(0, 10).map((k) => `missed on MQTT: ${k}`),
    ...r.opcuaMissed.slice(0, 10).map((k) => `missed on OPC UA: ${k}`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, rate: { type: 'string' } } });
  runSoak({
    minutes: Number(values.minutes),
    rate: values.rate ? Number(values.rate) : undefined,
    progress: (l) => console.log(`# ${l}`),
  }).then(
    (r) => {
      console.log(formatSoak(r));
      process.exit(r.ok ? 0 : 1);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
