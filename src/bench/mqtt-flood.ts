// A paced QoS 0 MQTT publisher for the benchmarks, cheap enough not to be what limits the rate:
// it writes pre-encoded PUBLISH packets over raw sockets from a worker thread (its own core),
// and never queues in memory (a socket that needs draining is skipped, and counted as blocked).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { xorshift32 } from './bench-util.js';

export interface FloodJob {
  port: number;
  connections: number;
  devices: number;
  /** Events per second over all connections. */
  rate: number;
  seconds: number;
  /** Device id prefix: `d0`, `d1`, … */
  prefix?: string;
  /**
   * `flood` (default): pre-encoded events cycling through 8 variants. `contract`: the peer
   * harness's load (../shared/peer-nodered/load.mjs): `ts` = send time, anomalies random, and a
   * 12-event fault episode in every 200 events of a device, so a 3-of-5 rule raises and clears.
   */
  payloads?: 'flood' | 'contract';
  /** Device indexes left out (probes and the functional check use them). */
  skip?: number[];
  /**
   * Bytes a socket may hold unsent before it counts as blocked. 0 (default): none beyond the
   * stream's own high-water mark. The peer's publisher allows 4 MiB, so a pause of the target of a
   * few ms does not cost it rate.
   */
  queueBytes?: number;
}

export interface FloodResult {
  sent: number;
  seconds: number;
  /** Share of pacing ticks at which every socket was still draining (the target pushed back). */
  blockedShare: number;
}

const remainingLength = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
};

const utf8 = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** MQTT 3.1.1 CONNECT, clean session, no login. */
export function connectPacket(clientId: string): Buffer {
  const body = Buffer.concat([utf8('MQTT'), Buffer.from([4, 0x02, 0, 60]), utf8(clientId)]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

/** PUBLISH at QoS 0. */
export function publishPacket(topic: string, payload: string): Buffer {
  const body = Buffer.concat([utf8(topic), Buffer.from(payload, 'utf8')]);
  return Buffer.concat([Buffer.from([0x30, ...remainingLength(body.length)]), body]);
}

/** The events each device cycles through: most normal, one device in 50 with anomalies in half its events. */
export function floodPayload(device: string, index: number, variant: number): string {
  const degrading = index % 50 === 0;
  const anomaly = degrading && variant % 2 === 0 ? 0.9 : 0.05 + (variant % 4) * 0.02;
  return JSON.stringify({
    device,
    ts: 1_767_225_600_000 + variant * 1000,
    seq: variant,
    model: { name: 'motor-anomaly', version: '2.3.1' },
    label: anomaly > 0.5 ? 'bearing_wear' : 'normal',
    scores: anomaly > 0.5 ? { normal: 0.1, bearing_wear: 0.9 } : { normal: 0.92, bearing_wear: 0.08 },
    anomaly,
  });
}

const BATCH = 32;
const VARIANTS = 8;
const TICK_MS = 5;

/** The peer contract's events, made at send time: one device after another, each with its own sequence. */
function contractBatches(job: FloodJob): () => Buffer {
  const prefix = job.prefix ?? 'd';
  const skip = new Set(job.skip ?? []);
  const devices = Array.from({ length: job.devices }, (_, i) => i).filter((i) => !skip.has(i));
  const seq = new Array<number>(job.devices).fill(0);
  let cursor = 0;
  const random = xorshift32(1);
  return () => {
    const packets: Buffer[] = [];
    for (let k = 0; k < BATCH; k++) {
      const i = devices[cursor++ % devices.length]!;
      const n = seq[i]!++;
      const fault = (n + i * 7) % 200 < 12;
      const anomaly = Math.round((fault ? 0.82 + 0.17 * random() : 0.05 + 0.5 * random()) * 1e4) / 1e4;
      const device = `${prefix}${i}`;
      const payload =
        `{"device":"${device}","ts":${Date.now()},"seq":${n},"model":{"name":"bearing-ae","version":"1.0.0"},` +
        `"label":"${fault ? 'fault' : 'normal'}","anomaly":${anomaly}}`;
      packets.push(publishPacket(`tinyml/${device}/inference`, payload));
    }
    return Buffer.concat(packets);
  };
}

/** Pre-encoded batches, cycling through devices and variants. */
function floodBatches(job: FloodJob): () => Buffer {
  const prefix = job.prefix ?? 'd';
  const skip = new Set(job.skip ?? []);
  const packets: Buffer[] = [];
  for (let v = 0; v < VARIANTS; v++) {
    for (let d = 0; d < job.devices; d++)
      if (!skip.has(d)) packets.push(publishPacket(`tinyml/${prefix}${d}/inference`, floodPayload(`${prefix}${d}`, d, v)));
  }
  const batches: Buffer[] = [];
  for (let i = 0; i + BATCH <= packets.length; i += BATCH) batches.push(Buffer.concat(packets.slice(i, i + BATCH)));
  let next = 0;
  return () => batches[next++ % batches.length]!;
}

async function flood(job: FloodJob): Promise<FloodResult> {
  const nextBatch = job.payloads === 'contract' ? contractBatches(job) : floodBatches(job);
  const sockets: Socket[] = [];
  for (let c = 0; c < job.connections; c++) {
    const socket = connect({ port: job.port, host: '127.0.0.1', noDelay: true });
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(connectPacket(`flood-${process.pid}-${c}-${Date.now()}`));
    await once(socket, 'data');
    sockets.push(socket);
  }
  const start = performance.now();
  const end = start + job.seconds * 1000;
  let sent = 0;
  let next = 0;
  let ticks = 0;
  let blocked = 0;
  while (performance.now() < end) {
    ticks++;
    const due = (job.rate * (performance.now() - start)) / 1000;
    let wrote = false;
    for (let tries = 0; sent + BATCH <= due && tries < sockets.length * 4; ) {
      const socket = sockets[next++ % sockets.length]!;
      if (job.queueBytes ? socket.writableLength > job.queueBytes : socket.writableNeedDrain) {
        tries++;
        continue;
      }
      socket.write(nextBatch());
      sent += BATCH;
      wrote = true;
    }
    if (!wrote && sent + BATCH <= due) blocked++;
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  const seconds = (performance.now() - start) / 1000;
  for (const socket of sockets) socket.end(Buffer.from([0xe0, 0]));
  await Promise.all(sockets.map((s) => once(s, 'close').catch(() => undefined)));
  return { sent, seconds, blockedShare: ticks === 0 ? 0 : blocked / ticks };
}

const running = new Set<Worker>();

/** Runs one flood in a worker thread, so it has its own event loop (and core). */
export function runFlood(job: FloodJob): Promise<FloodResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: job });
    running.add(worker);
    worker.once('exit', () => running.delete(worker));
    worker.once('message', (r: FloodResult) => resolve(r));
    worker.once('error', reject);
  });
}

/** Ends every flood still running (a background load), without waiting for its result. */
export async function stopAllFloods(): Promise<void> {
  await Promise.all([...running].map((w) => w.terminate()));
}

if (!isMainThread && parentPort && (workerData as FloodJob | undefined)?.rate !== undefined) {
  void flood(workerData as FloodJob).then((r) => parentPort!.postMessage(r));
}
