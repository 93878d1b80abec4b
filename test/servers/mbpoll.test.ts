import t from 'tap';
import { execFile } from 'node:child_process';
import { AddressSpace } from '../../src/servers/modbus-tcp/address-space.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

/** Async on purpose: the gateway runs in this process and must keep answering while mbpoll waits. */
function mbpoll(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile('mbpoll', args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    ),
  );
}

/** One read of one value at a 0-based address; mbpoll counts references from 1 (-r 1 is address 0). */
const readOne = (port: number, type: string, address: number, flags: readonly string[] = []) =>
  mbpoll(['-m', 'tcp', '-p', String(port), '-a', '1', '-t', type, ...flags, '-r', String(address + 1), '-c', '1', '-1', '127.0.0.1']);

/** mbpoll's float reads are low word first by default; -B makes them high word first (ABCD). */
const ORDERS = [
  { order: 'ABCD', flags: ['-B'] },
  { order: 'CDAB', flags: [] },
] as const;

for (const { order, flags } of ORDERS) {
  t.test(`mbpoll decodes the anomaly float32 at the mapped address (${order})`, async (t) => {
    const { gateway, config, ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { wordOrder: order } });
    const mqtt = await mqttClient(ports.mqtt);
    t.teardown(() => mqtt.endAsync());
    await mqtt.publishAsync('tinyml/press-02/inference', JSON.stringify(inferenceEvent('press-02', 0.625, 9)), { qos: 1 });
    await waitFor(() => gateway.state.get('press-02')?.anomaly === 0.625, 'event in state');

    const row = AddressSpace.fromConfig(config).placed.find((p) => p.device === 'press-02' && p.field === 'anomaly');
    t.equal(row?.address, 16);
    const r = await readOne(ports.modbus, '3:float', row?.address ?? 0, flags);
    t.equal(r.code, 0, r.output);
    t.match(r.output, /\[\d+\]:\s+0\.625\b/);

    const past = await readOne(ports.modbus, '3', 99);
    t.match(past.output, /Illegal data address/i, 'outside the map: exception 02');
  });
}

t.test('mbpoll writes: the ack coil acknowledges; a read-only coil is exception 02', async (t) => {
  const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false } });
  gateway.alarms.apply({
    device: 'press-01',
    rule: 'persist',
    state: 'raised',
    severity: 800,
    value: 0.9,
    ts: Date.now(),
    message: 'high',
  });
  const write = (reference: number, value: string) =>
    mbpoll(['-m', 'tcp', '-p', String(ports.modbus), '-a', '1', '-t', '0', '-r', String(reference), '-1', '127.0.0.1', value]);
  const refused = await write(3, '1');
  t.match(refused.output, /Illegal data address/i, 'coil 2 (reference 3) is a gap in the block');
  t.match(gateway.alarms.get('press-01', 'persist'), { acked: false });
  const ack = await write(1, '1');
  t.equal(ack.code, 0, ack.output);
  t.match(gateway.alarms.get('press-01', 'persist'), { acked: true, by: 'modbus 127.0.0.1' }, 'coil 0 (reference 1) acknowledged it');
});

for (const { order, flags } of ORDERS) {
  t.test(`mbpoll decodes the test pattern (${order}): float32 123.456 and int32 -2 in one read each`, async (t) => {
    const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { wordOrder: order } });
    const read = (table: string, type: string, address: number) => readOne(ports.modbus, `${table}:${type}`, address, flags);
    // The pattern sits at 9000: int32 at offset 4, float32 at offset 6.
    const float = await read('4', 'float', 9006);
    t.equal(float.code, 0, float.output);
    t.match(float.output, /\[9007\]:\s+123\.456\b/, 'holding registers (function 03)');
    t.match((await read('3', 'float', 9006)).output, /\[9007\]:\s+123\.456\b/, 'input registers (function 04)');
    t.match((await read('4', 'int', 9004)).output, /\[9005\]:\s+-2\b/);
  });
}
