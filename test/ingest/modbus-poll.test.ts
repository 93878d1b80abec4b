import t from 'tap';
import modbusSerial from 'modbus-serial';
import { encode } from '../../src/core/register-codec.js';
import { runningGateway } from '../helpers/gateway-config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { ptyPair } from '../helpers/serial.js';

t.setTimeout(120_000);

const { ServerSerial, ServerTCP } = modbusSerial;
const LABELS = ['normal', 'imbalance', 'bearing_wear'];

/** The result layout the simulated MCUs keep in holding registers 0..9. */
const PROFILE = {
  table: 'holding_register',
  wordOrder: 'ABCD',
  model: { name: 'fan-anomaly' },
  labels: LABELS,
  seq: { address: 0 },
  labelIndex: { address: 1 },
  anomaly: { address: 2, type: 'float32' },
  scores: { address: 4, type: 'uint16', scale: 0.0001 },
  modelVersion: { address: 7 },
};

/** MCU slaves sharing one bus: each unit's registers, and units that have gone silent. */
class Slaves {
  readonly registers = new Map<number, number[]>();
  readonly silent = new Set<number>();
  reads = 0;

  set(unit: number, seq: number, anomaly: number, label = 0): void {
    const scores = LABELS.map((_, i) => (i === label ? 9000 : 500));
    this.registers.set(unit, [seq, label, ...encode(anomaly, { type: 'float32', order: 'ABCD' }), ...scores, 1, 4, 2]);
  }

  vector() {
    return {
      getHoldingRegister: (addr: number, unit: number, cb: (err: Error | null, v: number) => void) =>
        this.read(unit, addr, 1, (e, v) => cb(e, v[0] ?? 0)),
      getMultipleHoldingRegisters: (addr: number, length: number, unit: number, cb: (err: Error | null, v: number[]) => void) =>
        this.read(unit, addr, length, cb),
    };
  }

  private read(unit: number, addr: number, length: number, cb: (err: Error | null, v: number[]) => void): void {
    // A silent or absent slave never answers: the master's timeout is all it sees.
    if (this.silent.has(unit) || !this.registers.has(unit)) return;
    this.reads++;
    cb(null, this.registers.get(unit)!.slice(addr, addr + length));
  }
}

const pollConfig = (bus: Record<string, unknown>, units: number[]) => ({
  profiles: { mcu: PROFILE },
  buses: [
    {
      name: 'line-1',
      intervalMs: 100,
      timeoutMs: 150,
      offlineAfterMisses: 3,
      backoffMaxMs: 2000,
      ...bus,
      devices: units.map((u) => ({ id: `fan-${u}`, unitId: u, profile: 'mcu' })),
    },
  ],
});

function serialSlaves(path: string, slaves: Slaves): Promise<InstanceType<typeof ServerSerial>> {
  return new Promise((resolve, reject) => {
    const server = new ServerSerial(slaves.vector(), {
      path,
      baudRate: 19200,
      parity: 'even',
      openCallback: (err: Error | null) => (err ? reject(err) : resolve(server)),
    } as never);
  });
}

const closeSerial = (s: InstanceType<typeof ServerSerial>) => new Promise<void>((r) => s.close(() => r()));

t.test('RTU over a PTY pair: three MCUs polled in turn; a new seq is a new event, the same seq is none', async (t) => {
  const pty = await ptyPair(t);
  const slaves = new Slaves();
  for (const u of [1, 2, 3]) slaves.set(u, 10, 0.1 * u);
  const server = await serialSlaves(pty.b, slaves);
  t.teardown(() => closeSerial(server));
  const { gateway } = await runningGateway(t, { opcua: { enabled: false }, modbusPoll: pollConfig({ rtu: { path: pty.a } }, [1, 2, 3]) });
  const state = gateway.state;

  await waitFor(() => [1, 2, 3].every((u) => state.get(`fan-${u}`)?.seq === 10), 'one event per MCU');
  const fan2 = state.get('fan-2')!;
  t.match(fan2, {
    label: 'normal',
    model: { name: 'fan-anomaly', version: '1.4.2' },
    scores: { normal: 0.9, imbalance: 0.05, bearing_wear: 0.05 },
  });
  t.equal(fan2.anomaly, Math.fround(0.2));
  t.ok(state.isOnline(fan2));
  const readsBefore = slaves.reads;
  await waitFor(() => slaves.reads >= readsBefore + 9 || undefined, 'three more cycles');
  t.equal(fan2.events, 1, 'an unchanged seq is not a new event');

  slaves.set(2, 11, 0.95, 2);
  await waitFor(() => state.get('fan-2')?.seq === 11, 'the new seq arrives');
  t.match(state.get('fan-2'), { events: 2, label: 'bearing_wear', anomaly: Math.fround(0.95) });
  t.equal(gateway.pipeline.accepted, 4);
});

t.test('a silent MCU goes Online=false after 3 misses, backs off, and does not stall the others', async (t) => {
  const pty = await ptyPair(t);
  const slaves = new Slaves();
  for (const u of [1, 2, 3]) slaves.set(u, 1, 0.1);
  const server = await serialSlaves(pty.b, slaves);
  t.teardown(() => closeSerial(server));
  const { gateway } = await runningGateway(t, { opcua: { enabled: false }, modbusPoll: pollConfig({ rtu: { path: pty.a } }, [1, 2, 3]) });
  const state = gateway.state;
  await waitFor(() => [1, 2, 3].every((u) => state.get(`fan-${u}`)?.seq === 1), 'first events');

  slaves.silent.add(2);
  await waitFor(() => !state.isOnline(state.get('fan-2')!), 'fan-2 offline');
  t.ok(state.isOnline(state.get('fan-1')!) && state.isOnline(state.get('fan-3')!), 'the others stay online');

  // With fan-2 backing off, a change on fan-1 and fan-3 arrives within a couple of intervals.
  for (let seq = 2; seq <= 6; seq++) {
    const changed = Date.now();
    slaves.set(1, seq, 0.1);
    slaves.set(3, seq, 0.1);
    await waitFor(() => state.get('fan-1')?.seq === seq && state.get('fan-3')?.seq === seq, `seq ${seq} on fan-1 and fan-3`);
    t.ok(Date.now() - changed < 1000, `seq ${seq} took ${Date.now() - changed} ms with fan-2 silent`);
  }

  slaves.silent.delete(2);
  slaves.set(2, 7, 0.3);
  await waitFor(() => state.get('fan-2')?.seq === 7, 'fan-2 polled again after its backoff', 10_000);
  t.ok(state.isOnline(state.get('fan-2')!), 'and online again');
});

t.test('the bus reopens by itself when the serial port vanishes and comes back', async (t) => {
  const pty = await ptyPair(t);
  const slaves = new Slaves();
  slaves.set(1, 1, 0.5);
  let server = await serialSlaves(pty.b, slaves);
  const { gateway } = await runningGateway(t, { opcua: { enabled: false }, modbusPoll: pollConfig({ rtu: { path: pty.a } }, [1]) });
  const state = gateway.state;
  await waitFor(() => state.get('fan-1')?.seq === 1, 'first event');
  t.equal(gateway.health().parts['modbus-poll']?.ok, true);

  await closeSerial(server).catch(() => undefined);
  await pty.unplug();
  await waitFor(() => gateway.health().parts['modbus-poll']?.ok === false || undefined, 'health reports the bus down');
  t.match(gateway.health().parts['modbus-poll'], { problem: /bus line-1: not connected/ });
  await waitFor(() => !state.isOnline(state.get('fan-1')!), 'fan-1 offline while the port is gone');

  await pty.plug();
  slaves.set(1, 2, 0.6);
  server = await serialSlaves(pty.b, slaves);
  t.teardown(() => closeSerial(server));
  await waitFor(() => state.get('fan-1')?.seq === 2, 'events again after the port came back', 15_000);
  t.ok(state.isOnline(state.get('fan-1')!));
  t.equal(gateway.health().parts['modbus-poll']?.ok, true);
});

t.test('Modbus TCP: polled the same way; a slave that goes away and returns is picked up again', async (t) => {
  const slaves = new Slaves();
  slaves.set(5, 100, 0.25);
  const port = await freePort();
  const startSlave = () =>
    new Promise<InstanceType<typeof ServerTCP>>((resolve) => {
      const s = new ServerTCP(slaves.vector() as never, { host: '127.0.0.1', port, unitID: 255 });
      s.on('initialized', () => resolve(s));
    });
  const closeTcp = (s: InstanceType<typeof ServerTCP>) => new Promise<void>((r) => s.close(() => r()));
  let server = await startSlave();
  const { gateway } = await runningGateway(t, {
    opcua: { enabled: false },
    modbusPoll: pollConfig({ tcp: { host: '127.0.0.1', port } }, [5]),
  });
  const state = gateway.state;
  await waitFor(() => state.get('fan-5')?.seq === 100, 'event over TCP');
  t.equal(state.get('fan-5')?.anomaly, 0.25);

  await closeTcp(server);
  await waitFor(() => !state.isOnline(state.get('fan-5')!), 'fan-5 offline while the slave is gone');
  slaves.set(5, 101, 0.5);
  server = await startSlave();
  t.teardown(() => closeTcp(server));
  await waitFor(() => state.get('fan-5')?.seq === 101, 'events again once the slave is back', 15_000);
});
