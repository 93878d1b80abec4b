// npm run bench:modbus — what a PLC gets from the Modbus TCP server.
//
// Reads/s: clients in a worker thread (their own event loop) send FC04 reads of one device block
// (16 registers) back to back, one request in flight per connection, over 1 and then 10
// connections. Baselines measured in the same process with the same clients: a bare TCP server
// that answers every request with a fixed frame (the cost of the round trip alone), and
// modbus-serial's ServerTCP serving fixed registers.
//
// Latency: 1,000 events/s over MQTT to 100 devices; one device gets a new seq every 50 ms and a
// client reads its seq register every millisecond: latency is publish → first read showing the new seq.
// Baseline, at the same time: publish → the republished event on MQTT.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import modbusSerial from 'modbus-serial';
import { connectAsync } from 'mqtt';
import { configSchema } from '../config/schema.js';
import { silentLogger } from '../core/logger.js';
import { freePort, median, now, percentile } from './bench-util.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DEVICES = 100;
const RATE = Number(process.env.BENCH_RATE ?? 1000);
// BENCH_ONLY=reads|latency runs one half.
const ONLY = process.env.BENCH_ONLY;
const WATCHED_EVERY_MS = 50;
const POLL_MS = 1;
const WATCH_STRIDE = Math.max(1, Math.round((RATE * WATCHED_EVERY_MS) / 1000));

const deviceId = (i: number): string => `dev-${String(i).padStart(3, '0')}`;

type Job =
  | { kind: 'reads'; port: number; connections: number; seconds: number }
  | { kind: 'latency'; mqtt: number; modbus: number; seconds: number };

/** One FC04 request for 16 registers at `address` on unit 1. */
const readFrame = (tid: number, address: number): Buffer =>
  Buffer.from([tid >> 8, tid & 0xff, 0, 0, 0, 6, 1, 4, address >> 8, address & 0xff, 0, 16]);

/** Sends `frame()` and waits for the whole reply, forever, until `until`; returns replies counted. */
async function hammer(
  socket: Socket,
  frame: (tid: number) => Buffer,
  until: number,
  onReply?: (reply: Buffer) => void,
  pauseMs = 0,
): Promise<number> {
  let pending = Buffer.alloc(0);
  let resolveReply: (() => void) | undefined;
  let last = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    if (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
      last = pending.subarray(0, 6 + pending.readUInt16BE(4));
      pending = pending.subarray(last.length);
      resolveReply?.();
    }
  });
  let replies = 0;
  for (let tid = 1; now() < until; tid = (tid + 1) & 0xffff) {
    const replied = new Promise<void>((r) => (resolveReply = r));
    socket.write(frame(tid));
    await replied;
    replies++;
    onReply?.(last);
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return replies;
}

async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  return socket;
}

async function runJob(job: Job): Promise<unknown> {
  if (job.kind === 'reads') {
    const sockets = await Promise.all(Array.from({ length: job.connections }, () => openSocket(job.port)));
    const until = now() + job.seconds * 1000;
    const counts = await Promise.all(sockets.map((s, i) => hammer(s, (tid) => readFrame(tid, (i % DEVICES) * 16), until)));
    for (const s of sockets) s.destroy();
    return counts.reduce((a, b) => a + b, 0) / job.seconds;
  }
  const mqtt = await connectAsync(`mqtt://127.0.0.1:${job.mqtt}`, { clientId: `bench-${process.pid}` });
  // Nagle on the publisher's socket would hold each small publish for an ACK: 10–20 ms here.
  (mqtt.stream as Socket).setNoDelay(true);
  const published = new Map<number, number>();
  const mqttLatency: number[] = [];
  await mqtt.subscribeAsync(`tinyml/${deviceId(0)}/event`, { qos: 0 });
  mqtt.on('message', (_topic, payload) => {
    const at = published.get((JSON.parse(payload.toString()) as { seq: number }).seq);
    if (at !== undefined) mqttLatency.push(now() - at);
  });
  const start = now();
  const until = start + job.seconds * 1000;
  const publisher = (async () => {
    let seq = 0;
    for (let k = 0; now() < until; k++) {
      const due = start + (k * 1000) / RATE;
      if (due > now()) await new Promise((r) => setTimeout(r, due - now()));
      const watched = k % WATCH_STRIDE === 0;
      const device = watched ? deviceId(0) : deviceId(1 + (k % (DEVICES - 1)));
      const s = watched ? ++seq : k;
      if (watched) published.set(s, now());
      void mqtt.publishAsync(`tinyml/${device}/inference`, JSON.stringify(event(device, s)), { qos: 0 });
    }
  })();
  const modbusLatency: number[] = [];
  const socket = await openSocket(job.modbus);
  let lastSeen = 0;
  // seq is input registers 10..11 of device 0 (uint32, ABCD). Read every millisecond, as a fast
  // PLC scan would: back-to-back reads would load the gateway and delay what they measure.
  await hammer(
    socket,
    (tid) => readFrame(tid, 0),
    until + 200,
    (reply) => {
      const seq = reply.length >= 9 + 24 ? reply.readUInt32BE(9 + 20) : 0;
      if (seq > lastSeen) {
        lastSeen = seq;
        const at = published.get(seq);
        if (at !== undefined) modbusLatency.push(now() - at);
      }
    },
    POLL_MS,
  );
  await publisher;
  socket.destroy();
  await mqtt.endAsync();
  const summary = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: xs.length };
  };
  return { modbus: summary(modbusLatency), mqtt: summary(mqttLatency), sent: published.size };
}

const event = (device: string, seq: number): Record<string, unknown> => ({
  device,
  seq,
  model: { name: 'motor-anomaly', version: '1.2.0' },
  label: 'normal',
  scores: { normal: 0.9, wear: 0.1 },
  anomaly: 0.1,
});

function inWorker<T>(job: Job): Promise<T> {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: job });
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => resolve(m as T));
    worker.once('error', reject);
  });
}

/** Answers every request with the same 16-register reply: the round trip with nothing behind it. */
async function fixedReplyServer(): Promise<{ port: number; server: Server }> {
  const reply = Buffer.alloc(9 + 32);
  reply.writeUInt16BE(3 + 32, 4);
  reply[6] = 1;
  reply[7] = 4;
  reply[8] = 32;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (let at = 0; at + 12 <= chunk.length; at += 12) {
        chunk.copy(reply, 0, at, at + 2);
        socket.write(Buffer.from(reply));
      }
    });
  });
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { port, server };
}

async function libraryServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const port = await freePort();
  const registers = new Array<number>(16).fill(7);
  const server = new modbusSerial.ServerTCP(
    { getMultipleInputRegisters: (_a: number, length: number) => registers.slice(0, length) } as never,
    { host: '127.0.0.1', port, unitID: 1 },
  );
  await once(server, 'initialized');
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tinyml-bench-modbus-'));
  const config = configSchema.parse({
    gateway: { dataDir, logLevel: 'silent', offlineAfterMs: 60_000 },
    mqtt: { broker: { host: '127.0.0.1', port: await freePort() } },
    opcua: { enabled: false },
    modbus: { host: '127.0.0.1', port: await freePort(), maxConnections: 64 },
    http: { host: '127.0.0.1', port: await freePort() },
    devices: Array.from({ length: DEVICES }, (_, i) => ({ id: deviceId(i), labels: ['normal', 'wear'] })),
  });
  // Imported here so the client worker, which loads this file too, does not load the gateway.
  const { Gateway } = await import('../daemon/gateway.js');
  const gateway = new Gateway(config, { log: silentLogger() });
  await gateway.start();
  const fixed = await fixedReplyServer();
  const library = await libraryServer();
  console.log(
    `bench:modbus — ${DEVICES} devices, FC04 of 16 registers, one request in flight per connection; ${RUNS} runs of ${SECONDS} s`,
  );

  if (ONLY !== 'latency') await readsPerSecond(config.modbus.port, fixed.port, library.port);
  if (ONLY !== 'reads') await latency(config.mqtt.broker.port, config.modbus.port);
  fixed.server.close();
  await library.close();
  await gateway.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

async function readsPerSecond(gatewayPort: number, fixedPort: number, libraryPort: number): Promise<void> {
  // Warm-up: the first seconds against a server measure its JIT, not its steady state.
  for (const port of [gatewayPort, fixedPort, libraryPort]) await inWorker({ kind: 'reads', port, connections: 10, seconds: 2 });
  for (const connections of [1, 10]) {
    const runs: { gateway: number; fixed: number; library: number }[] = [];
    for (let r = 0; r < RUNS; r++) {
      const read = (port: number) => inWorker<number>({ kind: 'reads', port, connections, seconds: SECONDS });
      runs.push({ gateway: await read(gatewayPort), fixed: await read(fixedPort), library: await read(libraryPort) });
    }
    const m = (k: keyof (typeof runs)[number]): number => median(runs.map((x) => x[k]));
    console.log(
      `${connections} connection(s): gateway ${Math.round(m('gateway'))} reads/s; fixed-reply TCP server ${Math.round(m('fixed'))} ` +
        `(gateway ${(m('gateway') / m('fixed')).toFixed(2)}×); modbus-serial ServerTCP ${Math.round(m('library'))} (gateway ${(m('gateway') / m('library')).toFixed(2)}×)`,
    );
  }
}

async function latency(mqttPort: number, modbusPort: number): Promise<void> {
  type Latency = { modbus: { p50: number; p99: number; count: number }; mqtt: { p50: number; p99: number; count: number }; sent: number };
  const latencies: Latency[] = [];
  for (let r = 0; r < RUNS; r++) {
    latencies.push(await inWorker<Latency>({ kind: 'latency', mqtt: mqttPort, modbus: modbusPort, seconds: SECONDS * 2 }));
  }
  const l = (f: (x: Latency) => number): number => median(latencies.map(f));
  console.log(
    `MQTT publish → readable on Modbus (${RATE} events/s, watched device every ${WATCHED_EVERY_MS} ms): p50 ${l((x) => x.modbus.p50).toFixed(2)} ms, ` +
      `p99 ${l((x) => x.modbus.p99).toFixed(2)} ms (${l((x) => x.modbus.count)} of ${l((x) => x.sent)} seq seen); ` +
      `MQTT republish baseline p50 ${l((x) => x.mqtt.p50).toFixed(2)} ms, p99 ${l((x) => x.mqtt.p99).toFixed(2)} ms; ` +
      `ratio p50 ${(l((x) => x.modbus.p50) / l((x) => x.mqtt.p50)).toFixed(2)}×, p99 ${(l((x) => x.modbus.p99) / l((x) => x.mqtt.p99)).toFixed(2)}×`,
  );
}

if (isMainThread) {
  await main();
} else {
  parentPort!.postMessage(await runJob(workerData as Job));
}
