// A paced QoS 0 MQTT publisher for the benchmarks, cheap enough not to be what limits the rate:
// it writes pre-encoded PUBLISH packets over raw sockets from a worker thread (its own core),
// and never queues in memory (a socket that needs draining is skipped, and counted as blocked).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface FloodJob {
  port: number;
  connections: number;
  devices: number;
  /** Events per second over all connections. */
  rate: number;
  seconds: number;
  /** Device id prefix: `d0`, `d1`, … */
  prefix?: string;
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

async function flood(job: FloodJob): Promise<FloodResult> {
  const prefix = job.prefix ?? 'd';
  // Batches of BATCH packets each, cycling through devices and variants.
  const packets: Buffer[] = [];
  for (let v = 0; v < VARIANTS; v++) {
    for (let d = 0; d < job.devices; d++)
      packets.push(publishPacket(`tinyml/${prefix}${d}/inference`, floodPayload(`${prefix}${d}`, d, v)));
  }
  const batches: Buffer[] = [];
  for (let i = 0; i + BATCH <= packets.length; i += BATCH) batches.push(Buffer.concat(packets.slice(i, i + BATCH)));
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
      if (socket.writableNeedDrain) {
        tries++;
        continue;
      }
      socket.write(batches[(sent / BATCH) % batches.length]!);
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

/** Runs one flood in a worker thread, so it has its own event loop (and core). */
export function runFlood(job: FloodJob): Promise<FloodResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: job });
    worker.once('message', (r: FloodResult) => resolve(r));
    worker.once('error', reject);
  });
}

if (!isMainThread && parentPort && (workerData as FloodJob | undefined)?.rate !== undefined) {
  void flood(workerData as FloodJob).then((r) => parentPort!.postMessage(r));
}
