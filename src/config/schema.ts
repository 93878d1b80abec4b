import { z } from 'zod';
import { checkedRule } from '../cep/rules/check-fields.js';
import { DEVICE_ID_PATTERN } from '../normalise/inference-event.js';
import { PASSWORD_HASH_PATTERN } from '../core/password.js';
import { deviceModbusSchema, modbusServerSchema } from './modbus-schema.js';
import { modbusPollSchema } from './poll-schema.js';
import { serialSchema } from './serial-schema.js';
import { duration } from '../cep/rules/duration.js';
import { DEVICE_POLICIES } from '../state/device-registry.js';
import { HISTORY_SAMPLE_BYTES } from '../state/history.js';
import { influxSchema } from './influx-schema.js';
import { layoutDevices } from '../servers/modbus-tcp/layout.js';

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1);
/** Who may call a writing HTTP endpoint: nobody, clients on this machine, or any client. */
const apiAccess = z.enum(['off', 'loopback', 'any']).default('loopback');
const passwordHash = z.string().regex(PASSWORD_HASH_PATTERN, 'must be a hash made by `tinyml-gateway hash-password`, never the password');

export { WORD_ORDERS, type WordOrder } from './modbus-schema.js';
export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
export const SECURITY_POLICIES = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep'] as const;
export const OPCUA_ROLES = ['viewer', 'operator', 'admin'] as const;

const attribute = z.string().min(1).max(64).optional();

const deviceSchema = z.strictObject({
  id: z.string().regex(DEVICE_ID_PATTERN, 'device id must match [A-Za-z0-9_.-]{1,64}').describe('Device id, as in the MQTT topic'),
  description: z.string().max(256).optional().describe('Free text for people'),
  group: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe(
      'Devices that should run the same model version (e.g. a line); default: all devices of its model. Rules read it as the field `group`',
    ),
  line: attribute.describe('Production line the device sits on; rules read it as the field `line` (e.g. `key: line`)'),
  cell: attribute.describe('Work cell; rules read it as the field `cell`'),
  site: attribute.describe('Site or plant; rules read it as the field `site`'),
  tags: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a tag name must match [A-Za-z_][A-Za-z0-9_]{0,63}'),
      z.string().min(1).max(256),
    )
    .optional()
    .describe('Free attributes; rules read `tags.<name>`, e.g. tags.role: conveyor'),
  credentials: z
    .strictObject({
      mqtt: z
        .strictObject({
          username: z.string().min(1).max(64).optional().describe('MQTT username (default: the device id)'),
          passwordHash: passwordHash.describe('Hash from `tinyml-gateway hash-password`'),
        })
        .optional()
        .describe('Login at the embedded broker; the device may then publish only on its own topic'),
      httpTokenHash: z
        .string()
        .regex(PASSWORD_HASH_PATTERN, 'httpTokenHash must be a hash made by `tinyml-gateway hash-password`, never the token')
        .optional()
        .describe('Hash of the bearer token the device posts to /ingest with; only that token may post its events'),
    })
    .optional()
    .describe('How the device proves who it is'),
  labels: z
    .array(z.string().min(1).max(64))
    .max(65535)
    .default([])
    .describe('Class labels in a fixed order: the Modbus label_index is a position in this list'),
  anomalyRange: z
    .strictObject({
      low: z.number().finite().default(0).describe('Lowest anomaly score expected in normal operation'),
      high: z.number().finite().default(1).describe('Highest anomaly score expected in normal operation'),
    })
    .prefault({})
    .refine((r) => r.high > r.low, { message: 'anomalyRange.high must be greater than anomalyRange.low', path: ['high'] })
    .describe('EURange of the OPC UA AnomalyScore: what a SCADA bar graph scales to (scores outside it are still passed on)'),
  expectedPerMinute: z
    .number()
    .positive()
    .optional()
    .describe('Inferences a minute the device should send: GET /devices flags it when it sends fewer than half'),
  modbus: deviceModbusSchema.describe('Where the device sits on the Modbus server; see docs/modbus.md'),
});

export const DEFAULT_ANOMALY_RANGE = { low: 0, high: 1 };

/**
 * The one source for config types, defaults, error messages and docs/config.md. Every object is
 * strict so a misspelled key is an error, not a silently ignored setting.
 */
export const configSchema = z
  .strictObject({
    version: z.literal(1).default(1).describe('Config format version'),
    gateway: z
      .strictObject({
        id: z.string().regex(DEVICE_ID_PATTERN).default('tinyml-gateway').describe('Name of this gateway (MQTT broker id, logs)'),
        dataDir: z
          .string()
          .min(1)
          .default('./data')
          .describe('State and OPC UA PKI; relative to the config file; `--data-dir` overrides it'),
        logLevel: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info')
          .describe('JSON log lines on stdout at or above this level'),
        anonymousIngest: z
          .enum(['loopback', 'any', 'off'])
          .default('loopback')
          .describe(
            'Who may send events without credentials (MQTT without a login, POST /ingest without a device token): clients on this machine, any client, or nobody',
          ),
        overload: z
          .strictObject({
            enabled: z.boolean().default(true).describe('Shed events that cannot be back-pressured (MQTT QoS 0, serial) while overloaded'),
            maxDelay: duration
              .default(20)
              .describe(
                'A mean event-loop delay at or above this, three intervals in a row, the loop never waiting for input and the time spent on events, is an overload',
              ),
            interval: duration.default(100).describe('How often the event loop is looked at'),
          })
          .prefault({})
          .describe(
            'Overload: QoS 1 is back-pressured and HTTP gets 503; QoS 0 and serial events above what the gateway can take are shed and counted',
          ),
        offlineAfterMs: z
          .number()
          .int()
          .positive()
          .default(30_000)
          .describe('A device is Online while its last event is younger than this'),
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        broker: z
          .strictObject({
            enabled: z.boolean().default(true).describe('Run the embedded MQTT broker (aedes)'),
            host: host.default('0.0.0.0').describe('Address the embedded broker listens on'),
            port: port.default(1883).describe('Port of the embedded broker'),
            allowAnonymous: z
              .boolean()
              .default(true)
              .describe('Clients without a username may connect (they may not publish as a device that has MQTT credentials)'),
            users: z
              .array(
                z.strictObject({
                  name: z.string().min(1).max(64).describe('MQTT username'),
                  passwordHash: passwordHash.describe('Hash from `tinyml-gateway hash-password`'),
                  role: z
                    .enum(['subscriber', 'publisher'])
                    .default('subscriber')
                    .describe('subscriber: reads everything, publishes no events; publisher: may publish events of any device'),
                }),
              )
              .default([])
              .describe('Clients that are not devices: Node-RED, SCADA, bridges'),
          })
          .prefault({}),
        url: z
          .url({ protocol: /^(mqtts?|wss?|tcp)$/ })
          .optional()
          .describe('External broker (e.g. mqtt://broker.plant:1883), used when broker.enabled is false'),
        clientId: z
          .string()
          .min(1)
          .optional()
          .describe('Client id of the persistent session at the external broker (default: gateway.id); keep it stable across restarts'),
        republishEvents: z
          .boolean()
          .default(true)
          .describe('Republish accepted events, normalised, on tinyml/<device>/event (alarms always go to tinyml/<device>/alarm)'),
      })
      .prefault({})
      .refine((m) => m.broker.enabled || m.url !== undefined, {
        message: 'set mqtt.url when mqtt.broker.enabled is false',
        path: ['url'],
      }),
    opcua: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Run the OPC UA server'),
        port: port.default(4840).describe('OPC UA TCP port (endpoint opc.tcp://<host>:<port>/UA/TinyMLGateway)'),
        host: host.optional().describe('Host name advertised in endpoint URLs (default: the machine name)'),
        maxClients: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(50)
          .describe('Client connections and sessions the server accepts at once (node-opcua alone would stop at 10)'),
        maxMonitoredItems: z
          .number()
          .int()
          .positive()
          .default(1_000_000)
          .describe('Monitored items across all subscriptions (1k devices × 10 variables × 20 clients is 200,000)'),
        handshakeTimeout: duration
          .refine((ms) => ms >= 1000, 'at least 1s: a client on a slow link needs that for HEL and OpenSecureChannel')
          .default(10_000)
          .describe('Time a new connection has to send HEL and open a secure channel, else it is closed (node-opcua alone: 3 min)'),
        maxHandshakes: z
          .number()
          .int()
          .positive()
          .max(1000)
          .default(20)
          .describe('Connections still in that handshake at once; more are closed on arrival (keep it below maxClients)'),
        security: z
          .strictObject({
            modes: z
              .array(z.enum(SECURITY_MODES))
              .min(1)
              .default(['SignAndEncrypt'])
              .describe('Endpoint security modes; `None` (no signing, no encryption) only when listed here'),
            policies: z
              .array(z.enum(SECURITY_POLICIES))
              .min(1)
              .default([...SECURITY_POLICIES])
              .describe('Security policies of the Sign and SignAndEncrypt endpoints'),
            allowAnonymous: z.boolean().default(false).describe('Accept sessions without a user name'),
            anonymousRole: z.enum(OPCUA_ROLES).default('viewer').describe('Role of anonymous sessions when allowed'),
            autoAcceptClientCertificates: z
              .boolean()
              .default(false)
              .describe('Trust every client certificate on first contact (commissioning only; otherwise use `tinyml-gateway pki trust`)'),
          })
          .prefault({}),
        history: z
          .strictObject({
            perDevice: z
              .number()
              .int()
              .positive()
              .max(1_000_000)
              .default(1000)
              .describe('Without InfluxDB: samples per device kept in memory for HistoryRead'),
            maxBytes: z
              .number()
              .int()
              .min(HISTORY_SAMPLE_BYTES * 16)
              .max(16 * 1024 ** 3)
              .default(64 * 1024 ** 2)
              .describe(
                `Without InfluxDB: memory all devices' samples may take together, ${HISTORY_SAMPLE_BYTES} bytes a sample; a device gets at most its share of it among the devices seen`,
              ),
            alarms: z
              .number()
              .int()
              .positive()
              .max(1_000_000)
              .default(10_000)
              .describe('Without InfluxDB: alarm events kept in memory for HistoryRead'),
          })
          .prefault({}),
        users: z
          .array(
            z.strictObject({
              name: z.string().min(1).max(64).describe('User name'),
              passwordHash: z
                .string()
                .regex(PASSWORD_HASH_PATTERN, 'passwordHash must be a hash made by `tinyml-gateway hash-password`, never the password')
                .describe('Salted scrypt hash from `tinyml-gateway hash-password`'),
              role: z
                .enum(OPCUA_ROLES)
                .describe('viewer: read and subscribe; operator: + acknowledge, confirm, methods; admin: everything'),
            }),
          )
          .superRefine((users, ctx) => {
            for (const d of duplicateIds(
              users.map((u) => ({ id: u.name })),
              'user',
            )) {
              ctx.addIssue({ code: 'custom', message: d.message.replace(' id ', ' name '), path: [d.index, 'name'] });
            }
          })
          .default([])
          .describe('OPC UA users; when empty, an `admin` user is created on first start and its password printed once'),
      })
      .prefault({}),
    modbus: modbusServerSchema,
    modbusPoll: modbusPollSchema.describe('Modbus RTU/TCP master that polls MCUs for their results; see docs/modbus.md#polling-mcus'),
    serial: serialSchema.describe('MCUs that print their results on a UART; see docs/serial.md'),
    http: z
      .strictObject({
        host: host.default('0.0.0.0').describe('Address of the HTTP listener (/health, /metrics)'),
        port: port.default(8080).describe('HTTP port'),
        limits: z
          .strictObject({
            headersTimeout: duration.default(10_000).describe("Time a client has to send a request's headers; then 408 and closed"),
            bodyTimeout: duration
              .default(30_000)
              .describe('Time a client has to send a whole request, body included (slow bodies end here); then 408 and closed'),
            idleTimeout: duration.default(5_000).describe('An idle keep-alive connection is closed after this'),
            maxConnections: z.number().int().positive().default(1000).describe('Connections open at once; more are closed on arrival'),
            maxConnectionsPerClient: z
              .number()
              .int()
              .positive()
              .default(64)
              .describe('Connections open at once from one client address; more are closed on arrival'),
          })
          .prefault({})
          .refine((l) => l.headersTimeout <= l.bodyTimeout, {
            message: 'headersTimeout must not exceed bodyTimeout',
            path: ['headersTimeout'],
          })
          .describe(
            'Timeouts and connection caps of the HTTP listener; connections it closes are counted in tinyml_gateway_http_connections_closed_total',
          ),
        rulesApi: apiAccess.describe('Who may replace rules with POST /rules: nobody, clients on this machine, or any client'),
        alarmsApi: apiAccess.describe(
          'Who may acknowledge, confirm and reset alarms with POST /alarms/…: nobody, clients on this machine, or any client',
        ),
        devicesApi: apiAccess.describe(
          'Who may add, approve, revoke and remove devices with POST/DELETE /devices…: nobody, clients on this machine, or any client',
        ),
        apiTokens: z
          .array(
            z.strictObject({
              name: z.string().min(1).max(64).describe('Who holds the token, for people and logs'),
              tokenHash: z
                .string()
                .regex(PASSWORD_HASH_PATTERN, 'tokenHash must be a hash made by `tinyml-gateway hash-password`, never the token')
                .describe('Hash of the bearer token'),
            }),
          )
          .default([])
          .describe('Bearer tokens that may call the writing endpoints (rules, alarms, devices) from any address, unless they are off'),
        ingest: z
          .strictObject({
            enabled: z.boolean().default(true).describe('Accept events with POST /ingest'),
            maxBodyBytes: z
              .number()
              .int()
              .min(1024)
              .max(64 * 1024 * 1024)
              .default(1024 * 1024)
              .describe('Larger bodies get 413'),
            requireToken: z
              .boolean()
              .default(false)
              .describe('Every POST /ingest needs a device token (devices[].credentials.httpTokenHash); else only devices with one do'),
            perDevice: z
              .strictObject({
                perSecond: z.number().positive().default(20).describe('Events a device may post per second, sustained'),
                burst: z.number().int().positive().default(200).describe('Events a device may post at once'),
              })
              .prefault({})
              .describe('Rate limit per device; over it: 429 with Retry-After'),
          })
          .prefault({})
          .describe('HTTP ingest: POST /ingest with one event, a JSON array, or Edge Impulse classification JSON; see docs/api.md'),
      })
      .prefault({}),
    influx: influxSchema.describe('InfluxDB 1.x history with a write-ahead buffer; see docs/influx.md'),
    models: z
      .array(
        z.strictObject({
          name: z.string().min(1).max(64).describe('Model name, as the devices report it'),
          version: z.string().min(1).max(64).optional().describe('Only this version (default: every version)'),
          description: z.string().max(256).optional().describe('What the model does'),
          ramKiB: z.number().nonnegative().optional().describe('RAM it needs on the MCU (tensor arena and buffers), KiB'),
          flashKiB: z.number().nonnegative().optional().describe('Flash it needs on the MCU, KiB'),
        }),
      )
      .default([])
      .describe('What is known about the models devices run: shown in Thing Descriptions (GET /things)'),
    inventory: z
      .strictObject({
        mixedVersionsAfter: z
          .union([z.literal(0), duration])
          .default(3_600_000)
          .describe('A group on mixed model versions longer than this alarms its lagging devices (0: never)'),
        severity: z.number().int().min(1).max(1000).default(300).describe('Severity of that alarm'),
        checkEvery: duration.default(10_000).describe('How often groups are checked'),
      })
      .prefault({})
      .describe('Model inventory: which model version each device runs (GET /models)'),
    registry: z
      .strictObject({
        policy: z
          .enum(DEVICE_POLICIES)
          .default('auto')
          .describe('Devices not in `devices`: auto (accepted and registered), allowlist (refused), quarantine (held until approved)'),
      })
      .prefault({})
      .describe('Which devices may feed the gateway; see docs/api.md#devices'),
    devices: z
      .array(deviceSchema)
      .superRefine(uniqueIds('device'))
      .default([])
      .describe('Known devices, in Modbus block order; unknown devices are still accepted and shown in OPC UA'),
    rules: z.array(checkedRule).superRefine(uniqueIds('rule')).default([]).describe('CEP rules; see docs/rules.md'),
    checkpoint: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe('Snapshot every rule state (windows, partial matches, trends, latched alarms, deadlines) and restore it at start'),
        interval: duration.default(30_000).describe('How often the snapshot is written; it is written at stop too'),
      })
      .prefault({})
      .describe(`Rule state across restarts, in <dataDir>/rule-state.snapshot; see docs/rules.md#rule-state-across-restarts`),
    ruleFiles: z
      .array(z.string().min(1))
      .default([])
      .describe('YAML files with more rules (`rules:` list), relative to this file, e.g. rules/device-silent.yaml'),
  })
  .superRefine((c, ctx) => {
    for (const p of layoutDevices(c.modbus, c.devices).problems) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

export function uniqueIds(what: string) {
  return (items: { id: string }[], ctx: z.RefinementCtx): void => {
    for (const d of duplicateIds(items, what)) ctx.addIssue({ code: 'custom', message: d.message, path: [d.index, 'id'] });
  };
}

export function duplicateIds(items: { id: string }[], what: string): { index: number; message: string }[] {
  const seen = new Set<string>();
  const out: { index: number; message: string }[] = [];
  items.forEach(({ id }, index) => {
    if (seen.has(id)) out.push({ index, message: `duplicate ${what} id '${id}'` });
    seen.add(id);
  });
  return out;
}

export type GatewayConfig = z.output<typeof configSchema>;
export type DeviceConfig = GatewayConfig['devices'][number];
export type OpcuaConfig = GatewayConfig['opcua'];
export type OpcuaRole = (typeof OPCUA_ROLES)[number];
