import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { AddressSpace, type Placed } from '../../src/servers/modbus-tcp/address-space.js';
import { typeName } from '../../src/core/register-codec.js';
import { TEST_PATTERN } from '../../src/servers/modbus-tcp/test-pattern.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(120_000);

const READER = join(import.meta.dirname, '..', 'fixtures', 'pymodbus_read.py');

/** pymodbus from Debian's python3-pymodbus, run by Debian's python (a pyenv python on PATH would not have it). */
function pymodbusRead(spec: unknown): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', [READER], { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as unknown[]),
    );
    child.stdin?.end(JSON.stringify(spec));
  });
}

/** A map with every register type, scaled integers and text of odd length, in holding and input registers. */
const ALL_TYPES = {
  fields: [
    { field: 'anomaly', table: 'holding_register', address: 0, type: 'int16', scale: 0.001 },
    { field: 'anomaly', table: 'holding_register', address: 1, type: 'uint32', scale: 0.0001, offset: -1 },
    { field: 'confidence', table: 'holding_register', address: 3, type: 'float32' },
    { field: 'score.bearing_wear', table: 'holding_register', address: 5, type: 'float64' },
    { field: 'seq', table: 'holding_register', address: 9, type: 'int32' },
    { field: 'label_index', table: 'holding_register', address: 11, type: 'int16' },
    { field: 'events_total', table: 'input_register', address: 0, type: 'uint32' },
    { field: 'model_version_minor', table: 'input_register', address: 2, type: 'uint16' },
    { field: 'label', table: 'input_register', address: 3, type: 'string(8)' },
    { field: 'model_name', table: 'input_register', address: 7, type: 'string(13)' },
    { field: 'online', table: 'discrete_input', address: 0 },
    { field: 'alarm.persist', table: 'coil', address: 0 },
    { field: 'ack', table: 'holding_register', address: 12, writable: true },
  ],
};

/** What each field must read after one event `inferenceEvent(device, 0.625, 9)`, no alarm. */
const EXPECTED: Record<string, unknown> = {
  anomaly: 0.625,
  confidence: 0.9,
  label_index: 0,
  model_version_major: 2,
  model_version_minor: 3,
  model_version_patch: 1,
  seconds_since_last_seen: 0,
  seq: 9,
  alarm_count: 0,
  online: 1,
  events_total: 1,
  alarm: false,
  alarm_unacked: false,
  ack: 0,
  reset: false,
  'score.bearing_wear': 0.04,
  label: 'normal',
  model_name: 'motor-anomaly',
  'alarm.persist': false,
  ...Object.fromEntries(TEST_PATTERN.map((f) => [f.field, f.value])),
};

function matches(p: Placed, got: unknown): boolean {
  let want = EXPECTED[p.field];
  if (p.field === 'online' && p.type === 'bit') want = true;
  if (p.field === 'ack' && p.type === 'bit') want = false;
  if (typeof want === 'number' && typeof got === 'number')
    return Math.abs(got - want) <= Math.max(1e-6 * Math.abs(want), (p.encoding?.scale ?? 0) / 2, 1e-7);
  return got === want;
}

for (const order of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
  t.test(`pymodbus reads every field of the map and decodes it with its own decoder (${order})`, async (t) => {
    const { gateway, config, ports } = await runningGateway(t, {
      opcua: { enabled: false },
      modbus: { wordOrder: order, profiles: { 'all-types': { wordOrder: order, ...ALL_TYPES } } },
      devices: [
        { id: 'press-01', labels: ['normal', 'imbalance', 'bearing_wear'] },
        { id: 'press-02', labels: ['normal', 'imbalance', 'bearing_wear'], modbus: { profile: 'all-types' } },
      ],
    });
    const mqtt = await mqttClient(ports.mqtt);
    t.teardown(() => mqtt.endAsync());
    for (const device of ['press-01', 'press-02']) {
      await mqtt.publishAsync(`tinyml/${device}/inference`, JSON.stringify(inferenceEvent(device, 0.625, 9)), { qos: 1 });
    }
    await waitFor(() => gateway.state.get('press-02')?.seq === 9 && gateway.state.get('press-01')?.seq === 9, 'events in state');

    const placed = AddressSpace.fromConfig(config).placed;
    t.equal(
      placed.length,
      15 + ALL_TYPES.fields.length + 2 * TEST_PATTERN.length,
      'the default map, the all-types map and the test pattern in two tables',
    );
    const fields = placed.map((p) => ({
      table: p.table,
      address: p.address,
      type: p.type === 'bit' ? 'bit' : typeName(p.type),
      ...(p.encoding?.scale !== undefined ? { scale: p.encoding.scale } : {}),
      ...(p.encoding?.offset !== undefined ? { offset: p.encoding.offset } : {}),
    }));
    const values = await pymodbusRead({ port: ports.modbus, unit: 1, order, fields });
    const wrong = placed.flatMap((p, i) =>
      matches(p, values[i])
        ? []
        : [`${p.device ?? 'pattern'} ${p.field} ${p.table} ${p.address} ${fields[i]!.type}: ${JSON.stringify(values[i])}`],
    );
    t.same(wrong, [], `all ${placed.length} fields decode to the expected value`);
  });
}

t.test('pymodbus sees the exception codes', async (t) => {
  const { ports } = await runningGateway(t, { opcua: { enabled: false } });
  const values = await pymodbusRead({
    port: ports.modbus,
    unit: 1,
    order: 'ABCD',
    fields: [
      { table: 'holding_register', address: 100, type: 'uint16' },
      { table: 'input_register', address: 31, type: 'uint32' },
      { table: 'coil', address: 0, type: 'bit' },
    ],
  });
  t.same(values, [{ exception: 2 }, { exception: 2 }, false]);
});
