// Latency probes of the end-to-end benchmark, each its own client over a socket: an MQTT publish of
// a distinct value for one device, then the time until a Modbus read or an OPC UA notification
// shows it. Clocks are this process's monotonic clock.
import { connectAsync, type MqttClient } from 'mqtt';
import { join } from 'node:path';
import {
  AttributeIds,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  type ClientSession,
  type DataValue,
} from 'node-opcua';
import modbusSerial from 'modbus-serial';
import { percentile } from '../bench-util.js';

export interface Latency {
  samples: number;
  timeouts: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const TIMEOUT_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function summary(ms: number[], timeouts: number): Latency {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? percentile(sorted, p) : NaN);
  return { samples: ms.length, timeouts, p50: at(50), p90: at(90), p99: at(99), max: sorted.at(-1) ?? NaN };
}

/** A distinct anomaly for sample `i`: never equal to the background load's values (which have 4 decimals). */
const distinct = (i: number): number => 0.1 + ((i * 7919) % 9973) / 1e6 + 0.0000005;

function event(device: string, seq: number, anomaly: number): string {
  return JSON.stringify({ device, ts: Date.now(), seq, model: { name: 'bearing-ae', version: '1.0.0' }, label: 'normal', anomaly });
}

// modbus-serial is CommonJS with `module.exports.default = module.exports`: `.default` is the class either way.
const ModbusRTU = modbusSerial.default;
export type ModbusClient = InstanceType<typeof ModbusRTU>;

/** A Modbus TCP client of unit 1 on loopback. */
export async function connectModbus(port: number, timeoutMs: number): Promise<ModbusClient> {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(timeoutMs);
  return client;
}

/** An OPC UA client over None with its PKI in `pkiDir`, not under $HOME. */
export function opcuaClient(pkiDir: string): OPCUAClient {
  return OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: join(pkiDir, 'client-pki'),
      automaticallyAcceptUnknownCertificate: true,
    }),
    connectionStrategy: { maxRetry: 3, initialDelay: 200, maxDelay: 1000 },
  });
}

/** Modbus: publish, then read the device's two holding registers every 1 ms until they hold the float32 of the value. */
export async function modbusLatency(o: {
  mqttPort: number;
  modbusPort: number;
  device: string;
  address: number;
  samples: number;
}): Promise<Latency> {
  const mqtt = await connectAsync(`mqtt://127.0.0.1:${o.mqttPort}`, { clean: true, reconnectPeriod: 0 });
  const modbus = await connectModbus(o.modbusPort, 1000);
  const ms: number[] = [];
  let timeouts = 0;
  const f32 = Buffer.alloc(4);
  try {
    for (let i = 0; i < o.samples; i++) {
      const value = distinct(i);
      f32.writeFloatBE(value);
      const want = [f32.readUInt16BE(0), f32.readUInt16BE(2)];
      const t0 = performance.now();
      mqtt.publish(`tinyml/${o.device}/inference`, event(o.device, 1_000_000 + i, value), { qos: 0 });
      let seen = false;
      while (performance.now() - t0 < TIMEOUT_MS) {
        const got = await modbus.readHoldingRegisters(o.address, 2).catch(() => undefined);
        if (got && got.data[0] === want[0] && got.data[1] === want[1]) {
          seen = true;
          break;
        }
        await sleep(1);
      }
      if (seen) ms.push(performance.now() - t0);
      else timeouts++;
      await sleep(5 + Math.random() * 10);
    }
  } finally {
    await mqtt.endAsync();
    await new Promise<void>((r) => modbus.close(() => r()));
  }
  return summary(ms, timeouts);
}

/** OPC UA: a subscription publishing every 50 ms (sampling 0, queue 10); publish at a random phase, time the notification. */
export async function opcuaLatency(o: {
  mqttPort: number;
  endpoint: string;
  pkiDir: string;
  nodeId: (ns: number) => string;
  device: string;
  samples: number;
}): Promise<Latency & { revisedSamplingMs: number }> {
  const mqtt: MqttClient = await connectAsync(`mqtt://127.0.0.1:${o.mqttPort}`, { clean: true, reconnectPeriod: 0 });
  const client = opcuaClient(o.pkiDir);
  await client.connect(o.endpoint);
  const session: ClientSession = await client.createSession();
  try {
    const ns = (await session.readNamespaceArray()).indexOf('urn:tinyml-gateway');
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: 50,
      requestedMaxKeepAliveCount: 20,
      requestedLifetimeCount: 200,
      publishingEnabled: true,
    });
    const item = await subscription.monitor(
      { nodeId: o.nodeId(ns), attributeId: AttributeIds.Value },
      { samplingInterval: 0, queueSize: 10, discardOldest: true },
      TimestampsToReturn.Both,
    );
    let waiting: { value: number; resolve: () => void } | undefined;
    item.on('changed', (dv: DataValue) => {
      if (waiting && dv.value.value === waiting.value) waiting.resolve();
    });
    const ms: number[] = [];
    let timeouts = 0;
    for (let i = 0; i < o.samples; i++) {
      await sleep(60 + Math.random() * 50);
      const value = distinct(100_000 + i);
      const t0 = performance.now();
      const seen = new Promise<boolean>((resolve) => {
        waiting = { value, resolve: () => resolve(true) };
        setTimeout(() => resolve(false), TIMEOUT_MS);
      });
      mqtt.publish(`tinyml/${o.device}/inference`, event(o.device, 2_000_000 + i, value), { qos: 0 });
      if (await seen) ms.push(performance.now() - t0);
      else timeouts++;
      waiting = undefined;
    }
    await subscription.terminate();
    return { ...summary(ms, timeouts), revisedSamplingMs: item.monitoringParameters.samplingInterval };
  } finally {
    await session.close();
    await client.disconnect();
    await mqtt.endAsync();
  }
}
