import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { connectPacket } from '../../src/bench/mqtt-flood.js';
import { runningGateway } from '../helpers/gateway-config.js';
import { startInfluxd } from '../helpers/influxd.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(120_000);

/** A QoS 1 PUBLISH, `dup` set as an MCU sets it when it sends a message again after a reconnect. */
function publishQos1(topic: string, payload: string, id: number, dup: boolean): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, Buffer.from([id >> 8, id & 0xff]), Buffer.from(payload)]);
  const length: number[] = [];
  let n = body.length;
  do {
    length.push(n % 128 | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x32 | (dup ? 0x08 : 0), ...length]), body]);
}

t.test('an event without ts sent twice (a QoS 1 resend after a reconnect, an HTTP retry) is stored once', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const { gateway, ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    influx: { enabled: true, url: influx.url, database: 'resend', flushIntervalMs: 100 },
  });
  const payload = JSON.stringify({ device: 'press-01', seq: 41, model: { name: 'm', version: '1' }, label: 'normal', anomaly: 0.2 });
  // The first copy's PUBACK is "lost" with its connection; the MCU reconnects and sends it again.
  for (const dup of [false, true]) {
    const socket = connect({ port: ports.mqtt, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.write(connectPacket(`mcu-${String(dup)}`));
    await once(socket, 'data');
    socket.write(publishQos1('tinyml/press-01/inference', payload, 7, dup));
    await once(socket, 'data');
    socket.destroy();
    await new Promise((r) => setTimeout(r, 20));
  }
  const post = () =>
    fetch(`http://127.0.0.1:${ports.http}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ device: 'press-02', seq: 9, model: { name: 'm', version: '1' }, anomaly: 0.3 }),
    });
  t.equal((await post()).status, 200);
  await new Promise((r) => setTimeout(r, 20));
  t.equal((await post()).status, 200, 'the retry is answered like the first: the client may stop retrying');
  // A device that restarted its counter: same seq, new content, a new event.
  const restarted = JSON.stringify({ device: 'press-01', seq: 41, model: { name: 'm', version: '1' }, label: 'normal', anomaly: 0.9 });
  const socket = connect({ port: ports.mqtt, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(connectPacket('mcu-restarted'));
  await once(socket, 'data');
  socket.write(publishQos1('tinyml/press-01/inference', restarted, 1, false));
  await once(socket, 'data');
  socket.destroy();

  await waitFor(() => (gateway.influx?.pending() === 0 && gateway.pipeline.accepted === 3) || undefined, 'three events through');
  const rows = await waitFor(async () => {
    const r = await influx.query('resend', 'SELECT device, seq, anomaly FROM inference');
    return r.length >= 3 ? r : undefined;
  }, 'the points in InfluxDB');
  t.same(
    rows.map((r) => `${String(r.device)}:${String(r.seq)}:${String(r.anomaly)}`).sort(),
    ['press-01:41:0.2', 'press-01:41:0.9', 'press-02:9:0.3'],
    'each resend stored once, the restarted counter’s event kept',
  );
  const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
  t.match(metrics, /tinyml_gateway_events_rejected_total\{reason="duplicate"\} 2/);
});
