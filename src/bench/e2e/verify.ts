// The functional check of the end-to-end benchmark, the gateway's copy of the peer harness's
// verify.mjs: scripted events for a few devices over MQTT, and after every event what a Modbus
// client and an OPC UA client see, against a reference model of the rule (alarm when anomaly ≥ 0.8
// in ≥ 3 of the device's last 5 events; clear after 5 in a row below). Run while the background
// load runs, on devices the load leaves out, so it checks the gateway at that rate.
import { connectAsync } from 'mqtt';
import { AttributeIds } from 'node-opcua';
import { connectModbus, opcuaClient } from './probes.js';

const H = 0.9;
const L = 0.1;
/** The peer's scenarios, by position: raise at the 4th and clear at the 9th; 0.8 counts; a hit sliding out; a hit resetting the clear count; just below. */
const SCENARIOS: number[][] = [
  [H, L, H, 0.85, L, L, L, L, L],
  [0.25, 0.8, 0.8, 0.8],
  [H, L, L, L, H, H, 0.5],
  [H, H, H, L, H, L, L, L, L, L, L],
  [0.7999, H, H, H, 0.1234],
];
export const VERIFY_DEVICES_PER_RUN = SCENARIOS.length;

class RuleModel {
  private window: boolean[] = [];
  private below = 0;
  alarm = false;

  step(anomaly: number): boolean {
    const hit = anomaly >= 0.8;
    this.window.push(hit);
    if (this.window.length > 5) this.window.shift();
    this.below = hit ? 0 : this.below + 1;
    if (!this.alarm && this.window.filter(Boolean).length >= 3) this.alarm = true;
    else if (this.alarm && this.below >= 5) this.alarm = false;
    return this.alarm;
  }
}

export interface VerifyResult {
  ok: boolean;
  checks: number;
  failures: Record<string, unknown>[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T extends { ok: boolean }>(read: () => Promise<T>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  let last = await read();
  while (!last.ok && Date.now() < end) {
    await sleep(5);
    last = await read();
  }
  return last;
}

/** Device `i` is `d<i>`, its anomaly at holding registers 2i, 2i+1 (float32) and its alarm at coil 2i. */
export async function verify(o: {
  mqttPort: number;
  modbusPort: number;
  endpoint: string;
  pkiDir: string;
  /** The device indexes to use, VERIFY_DEVICES_PER_RUN of them, fresh (no event yet). */
  devices: number[];
  /** Every device of the map, to check that the last one exists on both servers. */
  deviceCount: number;
}): Promise<VerifyResult> {
  const mqtt = await connectAsync(`mqtt://127.0.0.1:${o.mqttPort}`, { clean: true, reconnectPeriod: 0 });
  const modbus = await connectModbus(o.modbusPort, 2000);
  const client = opcuaClient(o.pkiDir);
  await client.connect(o.endpoint);
  const session = await client.createSession();
  const failures: Record<string, unknown>[] = [];
  let checks = 0;
  try {
    const ns = (await session.readNamespaceArray()).indexOf('urn:tinyml-gateway');
    const node = (i: number, v: string) => `ns=${ns};s=Devices/d${i}/${v}`;
    const models = o.devices.map(() => new RuleModel());
    const longest = Math.max(...SCENARIOS.map((s) => s.length));
    let seq = 0;
    for (let n = 0; n < longest; n++) {
      for (const [k, scenario] of SCENARIOS.entries()) {
        const anomaly = scenario[n];
        if (anomaly === undefined) continue;
        const i = o.devices[k]!;
        const alarm = models[k]!.step(anomaly);
        const payload = { device: `d${i}`, ts: Date.now(), seq: seq++, model: { name: 'bearing-ae', version: '1.0.0' }, anomaly };
        mqtt.publish(`tinyml/d${i}/inference`, JSON.stringify({ ...payload, label: anomaly >= 0.8 ? 'fault' : 'normal' }), { qos: 1 });
        const mb = await until(async () => {
          const hr = await modbus.readHoldingRegisters(2 * i, 2);
          const coil = await modbus.readCoils(2 * i, 1);
          const v = hr.buffer.readFloatBE(0);
          const c = Boolean(coil.data[0]);
          return { ok: v === Math.fround(anomaly) && c === alarm, v, c };
        });
        checks++;
        if (!mb.ok) failures.push({ device: `d${i}`, event: n, anomaly, alarm, modbusScore: mb.v, modbusCoil: mb.c });
        const ua = await until(async () => {
          const [score, active] = await session.read([
            { nodeId: node(i, 'AnomalyScore'), attributeId: AttributeIds.Value },
            { nodeId: node(i, 'AlarmActive'), attributeId: AttributeIds.Value },
          ]);
          const v = score?.value.value as unknown;
          const c = active?.value.value as unknown;
          return { ok: v === anomaly && c === alarm, v, c };
        });
        checks++;
        if (!ua.ok) failures.push({ device: `d${i}`, event: n, anomaly, alarm, opcuaScore: ua.v, opcuaAlarm: ua.c });
      }
    }
    const last = o.deviceCount - 1;
    const registers = await modbus.readHoldingRegisters(2 * last, 2).catch(() => undefined);
    const variables = await session.read([0, last].map((i) => ({ nodeId: node(i, 'AnomalyScore'), attributeId: AttributeIds.Value })));
    checks += 2;
    if (registers?.data.length !== 2) failures.push({ modbusMap: `registers of d${last} not readable` });
    if (variables.some((v) => v.statusCode.isBad())) failures.push({ opcuaMissing: variables.map((v) => v.statusCode.name) });
  } finally {
    await session.close();
    await client.disconnect();
    await new Promise<void>((r) => modbus.close(() => r()));
    await mqtt.endAsync();
  }
  return { ok: failures.length === 0, checks, failures };
}
