import { z } from 'zod';
import { ruleSchema } from '../cep/rules/schema.js';
import { DEVICE_ID_PATTERN } from '../normalise/inference-event.js';

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1);

export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;

const deviceSchema = z.strictObject({
  id: z.string().regex(DEVICE_ID_PATTERN, 'device id must match [A-Za-z0-9_.-]{1,64}'),
  description: z.string().max(256).optional(),
  /** Class labels in a fixed order: the Modbus label index is a position in this list. */
  labels: z.array(z.string().min(1).max(64)).max(65535).default([]),
});

/**
 * The one source for config types, defaults and error messages. Every object is strict so a
 * misspelled key is an error, not a silently ignored setting.
 */
export const configSchema = z.strictObject({
  version: z.literal(1).default(1),
  gateway: z
    .strictObject({
      id: z.string().regex(DEVICE_ID_PATTERN).default('tinyml-gateway'),
      dataDir: z.string().min(1).default('./data'),
      logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** A device is Online while its last event is younger than this. */
      offlineAfterMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      broker: z.strictObject({ enabled: z.boolean().default(true), host: host.default('0.0.0.0'), port: port.default(1883) }).prefault({}),
      /** External broker, used when the embedded one is disabled. */
      url: z.url({ protocol: /^(mqtts?|wss?|tcp)$/ }).optional(),
      clientId: z.string().min(1).optional(),
    })
    .prefault({})
    .refine((m) => m.broker.enabled || m.url !== undefined, {
      message: 'set mqtt.url when mqtt.broker.enabled is false',
      path: ['url'],
    }),
  opcua: z.strictObject({ enabled: z.boolean().default(true), port: port.default(4840), host: host.optional() }).prefault({}),
  modbus: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: host.default('0.0.0.0'),
      port: port.default(5020),
      unitId: z.number().int().min(1).max(255).default(1),
      wordOrder: z.enum(WORD_ORDERS).default('ABCD'),
    })
    .prefault({}),
  http: z.strictObject({ host: host.default('0.0.0.0'), port: port.default(8080) }).prefault({}),
  influx: z
    .strictObject({
      enabled: z.boolean().default(false),
      url: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8086'),
      database: z.string().min(1).default('tinyml'),
      batchSize: z.number().int().positive().max(50_000).default(1000),
      flushIntervalMs: z.number().int().positive().default(1000),
      /** Points held in memory while InfluxDB is unreachable; beyond it the oldest are dropped and counted. */
      maxBufferedPoints: z.number().int().positive().default(1_000_000),
    })
    .prefault({}),
  devices: z.array(deviceSchema).superRefine(uniqueIds('device')).default([]),
  rules: z.array(ruleSchema).superRefine(uniqueIds('rule')).default([]),
});

function uniqueIds(what: string) {
  return (items: { id: string }[], ctx: z.RefinementCtx): void => {
    const seen = new Set<string>();
    items.forEach(({ id }, i) => {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', message: `duplicate ${what} id '${id}'`, path: [i, 'id'] });
      seen.add(id);
    });
  };
}

export type GatewayConfig = z.output<typeof configSchema>;
export type DeviceConfig = GatewayConfig['devices'][number];
export type WordOrder = (typeof WORD_ORDERS)[number];
