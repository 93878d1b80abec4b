import t from 'tap';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { capturingLogger } from '../helpers/test-log.js';
import { runningGateway } from '../helpers/gateway-config.js';
import { modbusClient, modbusExceptionOf } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

/** One raw Modbus TCP request; resolves with the reply PDU, or 'closed' / 'silent' (nothing within `ms`). */
async function rawRequest(port: number, unit: number, pdu: number[], ms = 500): Promise<number[] | 'closed' | 'silent'> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  try {
    return await exchange(socket, unit, pdu, ms);
  } finally {
    socket.destroy();
  }
}

function exchange(socket: Socket, unit: number, pdu: number[], ms: number): Promise<number[] | 'closed' | 'silent'> {
  const frame = Buffer.from([0, 7, 0, 0, 0, pdu.length + 1, unit, ...pdu]);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('silent'), ms);
    socket.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve([...d.subarray(7)]);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.write(frame);
  });
}

const raise = (gateway: Awaited<ReturnType<typeof runningGateway>>['gateway'], device: string) =>
  gateway.alarms.apply({ device, rule: 'persist', state: 'raised', severity: 800, value: 0.9, ts: Date.now(), message: 'anomaly high' });

t.test(
  'writes reach only writable fields: ack and reset act on alarms; a read-only write is exception 02, logged with the client',
  async (t) => {
    const { log, lines } = capturingLogger();
    const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false } }, {}, { log });
    const client = await modbusClient(ports.modbus);
    t.teardown(() => new Promise<void>((r) => client.close(() => r())));

    raise(gateway, 'press-02');
    t.same((await client.readDiscreteInputs(16, 2)).data.slice(0, 2), [true, true], 'press-02: alarm active and unacknowledged');
    t.same((await client.readCoils(16, 2)).data.slice(0, 2), [true, false], 'the ack coil reads 1 while something waits for it');

    await client.writeCoil(16, true);
    t.match(gateway.alarms.get('press-02', 'persist'), { active: true, acked: true, by: 'modbus 127.0.0.1' }, 'coil 16 acknowledged it');
    t.same((await client.readDiscreteInputs(16, 2)).data.slice(0, 2), [true, false]);
    await client.writeCoil(16, true);
    t.pass('acknowledging twice is not an error');

    await client.writeCoil(17, true);
    t.equal(gateway.alarms.get('press-02', 'persist'), undefined, 'coil 17 reset it: cleared, acknowledged, confirmed');
    t.same((await client.readDiscreteInputs(16, 1)).data[0], false);

    raise(gateway, 'press-01');
    t.equal(await modbusExceptionOf(client.writeCoils(0, [true, true, true])), 2, 'a write that spans a read-only coil: 02');
    t.match(gateway.alarms.get('press-01', 'persist'), { acked: false }, '…and none of it was applied');
    t.equal(await modbusExceptionOf(client.writeCoil(0, false)), undefined, 'writing 0 to a command does nothing');
    t.match(gateway.alarms.get('press-01', 'persist'), { acked: false });
    t.equal(await modbusExceptionOf(client.writeRegister(0, 5)), 2, 'holding register that is not mapped: 02');
    t.equal(await modbusExceptionOf(client.writeRegisters(9000, [1, 2])), 2, 'the test pattern is read-only: 02');
    t.equal(await modbusExceptionOf(client.writeCoil(40, true)), 2, 'coil outside every map: 02');
    await waitFor(() => lines.find((l) => l.client === '127.0.0.1' && /write refused \(read-only\)/.test(String(l.msg))), 'refusal logged');
    t.match(
      lines.find((l) => l.table === 'holding_register' && l.address === 9000),
      { client: '127.0.0.1', unit: 1, count: 2, msg: /Modbus write refused \(read-only\): exception 02/ },
    );

    t.equal(await modbusExceptionOf(client.readHoldingRegisters(9000, 126)), 3, '126 registers: 03');
    t.equal(await modbusExceptionOf(client.readInputRegisters(0, 0)), 3, '0 registers: 03');
    t.equal(await modbusExceptionOf(client.readDiscreteInputs(0, 2001)), 3, '2001 bits: 03');
    t.same(await rawRequest(ports.modbus, 1, [0x07]), [0x87, 0x01], 'unknown function: 01');
    t.same(await rawRequest(ports.modbus, 1, [0x05, 0, 0, 0x12, 0x34]), [0x85, 0x03], 'FC05 value other than 0000/FF00: 03');
    t.same(await rawRequest(ports.modbus, 1, [0x10, 0, 0, 0, 2, 3, 0, 1, 0]), [0x90, 0x03], 'FC16 byte count that does not match: 03');
  },
);

t.test('unit ids: unknown ones get no answer or exception 0B; one unit per device', async (t) => {
  const silent = await runningGateway(t, { opcua: { enabled: false } });
  t.equal(await rawRequest(silent.ports.modbus, 9, [0x04, 0, 0, 0, 1]), 'silent', 'unit 9 is nobody: no answer');
  t.same(await rawRequest(silent.ports.modbus, 1, [0x04, 0, 0, 0, 1]), [0x04, 2, 0x7f, 0xc0], 'unit 1 answers (NaN anomaly)');

  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { unitIds: 'device', unitId: 255, unknownUnit: 'exception' },
  });
  t.same(await rawRequest(ports.modbus, 9, [0x04, 0, 0, 0, 1]), [0x84, 0x0b], 'unit 9: exception 0B');
  t.same(
    await rawRequest(ports.modbus, 2, [0x04, 0, 13, 0, 1]),
    [0x04, 2, 0, 0],
    "unit 2 is press-02: its block from address 0 ('online' 0)",
  );
  t.same(await rawRequest(ports.modbus, 2, [0x04, 0, 16, 0, 1]), [0x84, 0x02], 'past its block: 02');
  t.same(
    (await rawRequest(ports.modbus, 255, [0x03, 0x23, 0x28, 0, 1])).slice(0, 2),
    [0x03, 2],
    'the test pattern on the gateway unit 255',
  );
});

t.test('client limits: allowlist, max connections, idle timeout', async (t) => {
  const { log, lines } = capturingLogger();
  const denied = await runningGateway(t, { opcua: { enabled: false }, modbus: { allow: ['10.0.0.0/8'] } }, {}, { log });
  t.equal(await rawRequest(denied.ports.modbus, 1, [0x04, 0, 0, 0, 1]), 'closed', '127.0.0.1 is not in 10.0.0.0/8');
  t.ok(lines.some((l) => l.client === '127.0.0.1' && /not in modbus.allow/.test(String(l.msg))));

  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { allow: ['127.0.0.0/8'], maxConnections: 1, idleTimeoutMs: 400 },
  });
  const first = connect({ port: ports.modbus, host: '127.0.0.1' });
  await once(first, 'connect');
  t.same(await exchange(first, 1, [0x04, 0, 13, 0, 1], 1000), [0x04, 2, 0, 0], 'the first connection is served');
  t.equal(await rawRequest(ports.modbus, 1, [0x04, 0, 0, 0, 1]), 'closed', 'a second one is closed: maxConnections 1');
  const started = Date.now();
  await once(first, 'close');
  t.ok(Date.now() - started >= 300, 'the first is closed once idle for idleTimeoutMs');
  t.same(await rawRequest(ports.modbus, 1, [0x04, 0, 13, 0, 1]), [0x04, 2, 0, 0], 'and its slot is free again');
});

t.test('a client that sends but never reads is dropped before its answers pile up', async (t) => {
  const { log, lines } = capturingLogger();
  const devices = Array.from({ length: 8 }, (_, i) => ({ id: `d-${i}` }));
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, devices }, {}, { log });
  const socket = connect({ port: ports.modbus, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => undefined);
  t.teardown(() => socket.destroy());
  // 150,000 reads of 125 registers: 39 MB of answers nobody reads, more than the kernel buffers
  // of a loopback connection hold (tcp_rmem up to 32 MB here).
  const request = Buffer.from([0, 1, 0, 0, 0, 6, 1, 4, 0, 0, 0, 125]);
  socket.write(Buffer.concat(new Array<Buffer>(150_000).fill(request)));
  await waitFor(
    () => lines.find((l) => l.client === '127.0.0.1' && /does not read its answers: closed/.test(String(l.msg))),
    'the gateway drops it',
  );
  socket.resume();
  let received = 0;
  socket.on('data', (d: Buffer) => (received += d.length));
  await once(socket, 'close');
  t.ok(received < 150_000 * 259, `it got ${received} bytes of answers, not all 39 MB`);
});
