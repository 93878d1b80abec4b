import { configSchema, type GatewayConfig } from '../../src/config/schema.js';
import { Gateway, type GatewayDeps } from '../../src/daemon/gateway.js';
import { testLogger } from './test-log.js';
import { freePort } from './ports.js';
import { tempDir } from './temp-dir.js';

export const LABELS = ['normal', 'imbalance', 'bearing_wear'];

export interface TestPorts {
  mqtt: number;
  opcua: number;
  modbus: number;
  http: number;
}

/** A valid config on free loopback ports and a temp data dir (removed after `t`); `extra` is merged per section. */
export async function testConfig(
  t: { teardown(fn: () => void): void },
  extra: Record<string, unknown> = {},
): Promise<{ config: GatewayConfig; ports: TestPorts; raw: Record<string, unknown> }> {
  const ports = { mqtt: await freePort(), opcua: await freePort(), modbus: await freePort(), http: await freePort() };
  const defaults: Record<string, unknown> = {
    gateway: { id: 'gw-test', dataDir: tempDir(t, 'tinyml-gw-'), logLevel: 'silent' },
    mqtt: { broker: { enabled: true, host: '127.0.0.1', port: ports.mqtt } },
    // Tests connect over None as anonymous operators unless they test security itself.
    opcua: {
      enabled: true,
      port: ports.opcua,
      host: '127.0.0.1',
      security: { modes: ['None', 'Sign', 'SignAndEncrypt'], allowAnonymous: true, anonymousRole: 'operator' },
    },
    modbus: { enabled: true, host: '127.0.0.1', port: ports.modbus, unitId: 1, wordOrder: 'ABCD' },
    http: { host: '127.0.0.1', port: ports.http },
    devices: [
      { id: 'press-01', labels: LABELS },
      { id: 'press-02', labels: LABELS },
    ],
    rules: [
      {
        id: 'persist',
        pipeline: [{ persistence: { field: 'anomaly', atLeast: 0.7, n: 2, m: 3, clearAfter: 2 } }],
        outputs: { alarm: { severity: 800 } },
      },
    ],
  };
  // Each section of `extra` is merged over the default section, so a test names only what it changes.
  const raw: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(extra)) {
    const base = defaults[key];
    raw[key] = isPlainObject(base) && isPlainObject(value) ? { ...base, ...value } : value;
  }

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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A Gateway built from `testConfig`, started in this process and stopped after `t`. */
export async function runningGateway(
  t: { teardown(fn: () => unknown): void },
  extra: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  deps: Partial<GatewayDeps> = {},
): Promise<{ gateway: Gateway; config: GatewayConfig; ports: TestPorts; raw: Record<string, unknown> }> {
  const made = await testConfig(t, extra);
  const gateway = new Gateway(made.config, { log: testLogger(), env, ...deps });
  await gateway.start();
  t.teardown(() => gateway.stop());
  return { gateway, ...made };
}
