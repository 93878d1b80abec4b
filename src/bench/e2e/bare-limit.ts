// The bare limit of the end-to-end benchmark: the same broker (aedes, as embedded in the gateway)
// in its own process, and a subscriber in another that only JSON.parses each event. What these
// carry on this machine is the most the gateway could take through the same ingest path. With an
// InfluxDB URL the subscriber also writes every event to it, as line protocol in batches with one
// write in flight and no buffer on disk: the most the gateway could store on the same two cores.
//
// The bridge is the floor of the Modbus latency: the broker embedded as in the gateway, and in the
// same process each event's anomaly written as float32 to its device's two holding registers, served
// with the gateway's own PDU code; no validation, rule, state or OPC UA.
//
//   node bare-limit.js broker <port>                         prints "ready"
//   node bare-limit.js bridge <port> <modbus port>          prints "ready"
//   node bare-limit.js subscriber <port> [<influx url> <db>] prints {"processed": n} every 200 ms
//                                                            (with InfluxDB: events written)
import { createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import type { InferenceEvent } from '../../normalise/inference-event.js';
import { LineWriter } from '../../sinks/influx/line-writer.js';
import { inferenceLine } from '../../sinks/influx/points.js';
import { exceptionPdu, handlePdu, EXCEPTION } from '../../servers/modbus-tcp/pdu.js';

const [role, portText, influxUrl, database] = process.argv.slice(2);
const modbusPortText = influxUrl;
const BATCH = 5000;
const port = Number(portText);

if (role === 'broker') {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  server.listen(port, '127.0.0.1', () => console.log('ready'));
} else if (role === 'bridge') {
  const registers = new Uint16Array(65536);
  const f32 = Buffer.alloc(4);
  const broker = await Aedes.createBroker();
  broker.on('publish', (packet) => {
    const device = /^tinyml\/d(\d+)\/inference$/.exec(packet.topic)?.[1];
    if (device === undefined) return;
    const event = JSON.parse(packet.payload.toString()) as InferenceEvent;
    if (typeof event.anomaly !== 'number') return;
    f32.writeFloatBE(event.anomaly);
    registers[2 * Number(device)] = f32.readUInt16BE(0);
    registers[2 * Number(device) + 1] = f32.readUInt16BE(2);
  });
  createServer(broker.handle).listen(port, '127.0.0.1');
  const target = {
    readBits: () => EXCEPTION.illegalFunction,
    readRegisters: (_table: string, address: number, count: number) => [...registers.subarray(address, address + count)],
    write: () => EXCEPTION.illegalFunction,
  };
  const serve = (socket: Socket): void => {
    socket.setNoDelay(true);
    socket.on('data', (frame: Buffer) => {
      // The probe sends one request at a time: a chunk is one frame.
      const pdu = frame.subarray(7);
      const response = frame.length > 7 ? handlePdu(pdu, target) : exceptionPdu(0, EXCEPTION.illegalValue);
      const out = Buffer.alloc(7 + response.length);
      frame.copy(out, 0, 0, 4);
      out.writeUInt16BE(response.length + 1, 4);
      out[6] = frame[6] ?? 0;
      response.copy(out, 7);
      socket.write(out);
    });
  };
  createServer(serve).listen(Number(modbusPortText), '127.0.0.1', () => console.log('ready'));
} else if (role === 'subscriber') {
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clean: true, reconnectPeriod: 0 });
  let processed = 0;
  let parsed = 0;
  const writer = influxUrl
    ? new LineWriter({ url: influxUrl, database: database ?? 'bare', rejectUnauthorized: true, timeoutMs: 30_000 })
    : undefined;
  let lines: string[] = [];
  let writing = false;
  const flush = (): void => {
    if (!writer || writing || lines.length === 0) return;
    const batch = lines;
    lines = [];
    writing = true;
    writer.write(batch).then(
      () => {
        processed += batch.length;
        writing = false;
        if (lines.length >= BATCH) flush();
      },
      (err: Error) => {
        console.error(err.message);
        writing = false;
      },
    );
  };
  if (writer) setInterval(flush, 100);
  client.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString('utf8')) as InferenceEvent;
    if (typeof event.anomaly === 'number') parsed++;
    if (!writer) processed++;
    else {
      const line = inferenceLine(event);
      if (line !== undefined) lines.push(line);
      if (lines.length >= BATCH) flush();
    }
  });
  await client.subscribeAsync('tinyml/+/inference', { qos: 0 });
  console.log(JSON.stringify({ processed, parsed }));
  setInterval(() => console.log(JSON.stringify({ processed, parsed })), 200);
} else {
  console.error('usage: bare-limit.js broker|subscriber <port>');
  process.exit(2);
}
