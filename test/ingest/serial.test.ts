import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { ptyPair, type PtyPair } from '../helpers/serial.js';
import { buildSketch } from '../helpers/firmware.js';
import { tempDir } from '../helpers/temp-dir.js';
import type { Gateway } from '../../src/daemon/gateway.js';
import type { FrameVector } from '../normalise/serial/codecs.test.js';

t.setTimeout(120_000);

const VECTORS = JSON.parse(readFileSync('test/fixtures/binary-frames.json', 'utf8')) as FrameVector[];
const MOTOR = { '3': { name: 'motor-ad', labels: ['normal', 'imbalance', 'wear'] } };

/** The MCU's side of a PTY pair: bytes written here arrive at the gateway's port. */
function mcu(t: { teardown(fn: () => unknown): void }, pty: PtyPair): (bytes: string | Buffer) => void {
  const fd = openSync(pty.b, 'w');
  t.teardown(() => closeSync(fd));
  return (bytes) => void writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
}

async function dropped(gateway: Gateway, port: string): Promise<Record<string, number>> {
  const metric = await gateway.metrics.registry.getSingleMetric('tinyml_gateway_serial_dropped_total')?.get();
  return Object.fromEntries(
    (metric?.values ?? []).filter((v) => v.labels.port === port && v.value > 0).map((v) => [String(v.labels.reason), v.value]),
  );
}

t.test('three ports, three framings: events reach state, junk is counted per port and reason', async (t) => {
  const [json, ei, bin] = [await ptyPair(t), await ptyPair(t), await ptyPair(t)];
  const { gateway } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    serial: {
      ports: [
        { path: json.a, framing: 'json-lines', device: 'uart-json' },
        { path: ei.a, framing: 'edge-impulse', device: 'nano-1', model: { name: 'gestures', version: '3' }, idleFlushMs: 100 },
        { path: bin.a, framing: 'binary', binary: { devices: { '7': 'fan-07' }, models: MOTOR } },
      ],
    },
  });
  await waitFor(() => gateway.health().parts.serial?.ok || undefined, 'all three ports open');
  const state = gateway.state;
  const [toJson, toEi, toBin] = [mcu(t, json), mcu(t, ei), mcu(t, bin)];

  toJson('boot v1.2\r\n{"model":{"name":"m","version":"1"},"anomaly":0.4,"seq":3}\r\n{"broken\n{"model":{"name":"m","version":"1"}}\n');
  toEi(
    'Sampling...\nPredictions (DSP: 13 ms., Classification: 1 ms., Anomaly: 0 ms.):\n    idle: 0.2\n    wave: 0.8\n    anomaly score: 0.500\n',
  );
  toEi(Buffer.from([0xfe, 0xff, 0x0a]));
  const flipped = Buffer.from(VECTORS[0]!.frame, 'hex');
  flipped[2] = flipped[2]! ^ 1;
  toBin(
    Buffer.concat([
      Buffer.from('noise'),
      Buffer.from([0]),
      Buffer.from(VECTORS[0]!.frame, 'hex'),
      flipped,
      Buffer.alloc(70, 0x41),
      Buffer.from([0]),
    ]),
  );

  await waitFor(() => state.get('uart-json')?.seq === 3 || undefined, 'the JSON line');
  t.match(state.get('uart-json'), { anomaly: 0.4, model: { name: 'm', version: '1' } });
  await waitFor(() => state.get('nano-1') || undefined, 'the Edge Impulse block');
  t.match(state.get('nano-1'), { label: 'wave', anomaly: 0.5, scores: { idle: 0.2, wave: 0.8 }, dspMs: 13, inferenceMs: 1 });
  await waitFor(() => state.get('fan-07') || undefined, 'the binary frame');
  t.match(state.get('fan-07'), { seq: 1, label: 'wear', anomaly: 0.75, model: { name: 'motor-ad', version: '1.4' } });

  await waitFor(async () => (await dropped(gateway, json.a)).bad_json === 1 || undefined, 'JSON drops counted');
  t.same(await dropped(gateway, json.a), { other_line: 1, bad_json: 1 });
  t.same(await dropped(gateway, ei.a), { other_line: 1, garbage: 1 });
  t.same(await dropped(gateway, bin.a), { bad_cobs: 1, bad_crc: 1, oversize: 1 });
  const rejected = await gateway.metrics.registry.getSingleMetric('tinyml_gateway_events_rejected_total')?.get();
  t.equal(
    rejected?.values.find((v) => v.labels.reason === 'schema')?.value,
    1,
    'the line without a result fails the schema like any event',
  );
});

t.test('a port unplugged and plugged back in is reopened by itself; a missing port does not fail the start', async (t) => {
  const pty = await ptyPair(t);
  await pty.unplug();
  const { gateway } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    serial: { ports: [{ path: pty.a, framing: 'json-lines', device: 'hot-plug', reopenMaxMs: 500 }] },
  });
  t.match(gateway.health().parts.serial, { ok: false, problem: new RegExp(`serial port ${pty.a} is not open`) });
  await pty.plug();
  await waitFor(() => gateway.health().parts.serial?.ok || undefined, 'the port opened once it appeared', 10_000);
  let write = mcu(t, pty);
  write('{"model":{"name":"m","version":"1"},"anomaly":0.1,"seq":1}\n');
  await waitFor(() => gateway.state.get('hot-plug')?.seq === 1 || undefined, 'first event');

  write('{"model":{"name":"m","ver'); // unplugged mid-line
  await new Promise((r) => setTimeout(r, 100));
  await pty.unplug();
  // Generous: with two test files at once on two cores, noticing the gone PTY once took over 10 s.
  await waitFor(() => gateway.health().parts.serial?.ok === false || undefined, 'health reports the port gone', 30_000);
  const portOpen = async () => (await gateway.metrics.registry.getSingleMetric('tinyml_gateway_serial_port_open')?.get())?.values[0]?.value;
  await waitFor(async () => (await portOpen()) === 0 || undefined, 'serial_port_open 0');
  await pty.plug();
  await waitFor(() => gateway.health().parts.serial?.ok || undefined, 'reopened after the replug', 10_000);
  write = mcu(t, pty);
  write('{"model":{"name":"m","version":"1"},"anomaly":0.2,"seq":2}\n');
  await waitFor(() => gateway.state.get('hot-plug')?.seq === 2 || undefined, 'events again');
  t.same(await dropped(gateway, pty.a), { partial_line: 1 }, 'the torn line is counted');
});

t.test("the reference Arduino sketch's frames, through a PTY, become the gateway's events", async (t) => {
  const program = buildSketch(tempDir(t, 'sketch-'));
  const pty = await ptyPair(t);
  const { gateway } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    serial: { ports: [{ path: pty.a, framing: 'binary', binary: { devices: { '7': 'fan-07' }, models: MOTOR } }] },
  });
  await waitFor(() => gateway.health().parts.serial?.ok || undefined, 'port open');
  const fd = openSync(pty.b, 'w');
  t.teardown(() => closeSync(fd));
  const sketch = spawn(program, ['25'], { stdio: ['ignore', fd, 'inherit'] });
  await new Promise((r) => sketch.once('exit', r));
  await waitFor(() => gateway.state.get('fan-07')?.seq === 24 || undefined, 'all 25 frames');
  t.match(gateway.state.get('fan-07'), { events: 25, model: { name: 'motor-ad', version: '1.4' }, label: 'normal' }); // seq 24: wear 0.4
  t.same(await dropped(gateway, pty.a), {});
});
