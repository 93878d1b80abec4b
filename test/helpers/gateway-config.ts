import { configSchema, type GatewayConfig } from '../../src/config/schema.js';
import { freePort } from './ports.js';
import { tempDir } from './temp-dir.js';

export const LABELS = ['normal', 'imbalance', 'bearing_wear'];

export interface TestPorts {
  mqtt: number;
  opcua: number;
  modbus: number;
  http: number;
}

/** A valid config on free loopback ports and a temp data dir (removed after `t`); `extra` overrides top-level sections. */
export async function testConfig(
  t: { teardown(fn: () => void): void },
  extra: Record<string, unknown> = {},
): Promise<{ config: GatewayConfig; ports: TestPorts; raw: Record<string, unknown> }> {
  const ports = { mqtt: await freePort(), opcua: await freePort(), modbus: await freePort(), http: await freePort() };
  const raw: Record<string, unknown> = {
    gateway: { id: 'gw-test', dataDir: tempDir(t, 'tinyml-gw-'), logLevel: 'silent' },
    mqtt: { broker: { enabled: true, host: '127.0.0.1', port: ports.mqtt } },
    opcua: { enabled: true, port: ports.opcua, host: '127.0.0.1' },
    modbus: { enabled: true, host: '127.0.0.1', port: ports.modbus, unitId: 1, wordOrder: 'ABCD' },
    http: { host: '127.0.0.1', port: ports.http },
    devices: [
      { id: 'press-01', labels: LABELS },
      { id: 'press-02', labels: LABELS },
    ],
    rules: [{ id: 'persist', kind: 'anomaly-persistence', threshold: 0.7, n: 2, m: 3, clearAfter: 2, severity: 800 }],
    ...extra,
  };
  return { config: configSchema.parse(raw), ports, raw };
}

export function inferenceEvent(device: string, anomaly: number, seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    device,
    seq,
    ts: 1_700_000_000_000 + seq * 10,
    model: { name: 'motor-anomaly', version: '2.3.1' },
    label: anomaly >= 0.7 ? 'bearing_wear' : 'normal',
    scores: anomaly >= 0.7 ? { normal: 0.1, imbalance: 0.05, bearing_wear: 0.85 } : { normal: 0.9, imbalance: 0.06, bearing_wear: 0.04 },
    anomaly,
    timing: { dsp_ms: 11.5, inference_ms: 3.2 },
    ...extra,
  };
}
